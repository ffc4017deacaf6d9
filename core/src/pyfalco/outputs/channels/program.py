"""``program_output``: pipe lines to a shell command (``popen(program, "w")``).

Without ``keep_alive`` one process runs per message and is waited for, as Falco's
``pclose``; with it one long-lived process reads every line, written (and flushed) once per run
of lines the outputs worker takes from the queue. A long-lived program that died is started
again once for the lines at hand (the only retry this channel can make).
"""

from __future__ import annotations

import subprocess

from .base import Channel, ChannelInitError, DeliveryError, Message, encode_line


class ProgramChannel(Channel):
    name = "program"

    def open(self) -> None:
        self.program = self.config.text("program")
        if not self.program:
            raise ChannelInitError("program_output.program is empty")
        self.keep_alive = self.config.flag("keep_alive")
        self._proc: subprocess.Popen[bytes] | None = None
        self._lines: list[bytes] = []

    def _start(self) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
                # Always a buffered pipe: a raw write may be partial; flushing a buffered one
                # writes everything or raises.
                self.program, shell=True, stdin=subprocess.PIPE, bufsize=-1,
            )
        except OSError as exc:
            raise DeliveryError(f"failed to start program '{self.program}': {exc}") from exc

    def write(self, msg: Message) -> None:
        data = encode_line(msg.text) + b"\n"
        if self.keep_alive:
            self._lines.append(data)  # sent by flush(), once per run (see StdoutChannel.flush)
            return
        proc = self._start()
        try:
            self._send(proc, data)
        finally:
            self._finish(proc)

    def flush(self) -> None:
        if not self._lines:
            return
        data = b"".join(self._lines)
        self._lines = []
        for attempt in range(2):
            if self._proc is None or self._proc.poll() is not None:
                if self._proc is not None:
                    self._finish(self._proc)
                self._proc = self._start()
            try:
                self._send(self._proc, data)
                return
            except (BrokenPipeError, ValueError) as exc:
                self._finish(self._proc)
                self._proc = None
                if attempt:
                    raise DeliveryError(
                        f"program '{self.program}' closed its input: {exc}") from exc
                self.retries += 1

    def _send(self, proc: subprocess.Popen[bytes], data: bytes) -> None:
        assert proc.stdin is not None
        proc.stdin.write(data)
        if not self.settings.buffered:
            proc.stdin.flush()

    @staticmethod
    def _finish(proc: subprocess.Popen[bytes]) -> None:
        """pclose: close the pipe (EOF for the program) and wait for it."""
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except BrokenPipeError:
            pass
        finally:
            proc.wait()

    def reopen(self) -> None:
        self.close()

    def cleanup(self) -> None:
        if self._proc is not None and self._proc.stdin is not None:
            try:
                self._proc.stdin.flush()
            except BrokenPipeError:
                pass

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            self._finish(proc)
