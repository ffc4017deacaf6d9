"""End to end as Falco is run: a capture replayed by ``pyfalco`` with Falco's falco_rules.yaml
and the syscall, container and json plugins. The container macro (``container.id != host``)
comes from the thread's cgroups."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pyfalco_syscall.events import SyscallEvent, event_id
from pyfalco_syscall.scap.writer import ScapWriter
from pyfalco_syscall.state import SyscallState, ThreadInfo

PYFALCO = str(Path(sys.executable).with_name("pyfalco"))
ID = "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e"


def shell_exec(tid: int, cgroups: list[str], ts: int) -> SyscallEvent:
    return SyscallEvent(event_id("execve"), ts=ts, tid=tid, params={
        "res": 0, "exe": "/bin/bash", "args": b"-i\0", "tid": tid, "pid": tid, "ptid": 200,
        "cwd": "/", "fdlimit": 1024, "pgft_maj": 0, "pgft_min": 0, "vm_size": 0, "vm_rss": 0,
        "vm_swap": 0, "comm": "bash", "cgroups": "\0".join(cgroups).encode() + b"\0",
        "env": b"", "tty": 34816, "filename": "/bin/bash"})


@pytest.fixture
def capture(tmp_path):
    """A containerd-shim starts an interactive bash in a docker container (tid 201) and one on
    the host (tid 202, host cgroups)."""
    docker = [f"cpu=/docker/{ID}", f"memory=/docker/{ID}"]
    host = ["cpu=/user.slice", "memory=/user.slice"]
    st = SyscallState()
    st.add_thread(ThreadInfo(200, 200, 1, comm="containerd-shim", exe="containerd-shim"))
    st.add_thread(ThreadInfo(201, 201, 200, comm="runc:[1:CHILD]", exe="runc", cgroups=docker))
    st.add_thread(ThreadInfo(202, 202, 200, comm="runc:[1:CHILD]", exe="runc", cgroups=host))
    path = tmp_path / "shell.scap"
    with ScapWriter(path) as w:
        w.write_header(st, hostname="h")
        w.write_event(shell_exec(201, docker, 1_700_000_000_000_000_000))
        w.write_event(shell_exec(202, host, 1_700_000_001_000_000_000))
    return path


@pytest.mark.slow
def test_terminal_shell_in_container_fires_only_in_the_container(capture, tmp_path, upstream):
    conf = tmp_path / "falco.yaml"
    conf.write_text(f"""
plugins:
  - name: container
    init_config: {{engines: {{docker: {{sockets: [{tmp_path}/no-docker.sock]}}}}}}
  - name: json
load_plugins: [container, json]
json_output: true
stdout_output: {{enabled: true}}
append_output:
  - match: {{source: syscall}}
    extra_output: "container_id=%container.id container_type=%container.type"
    extra_fields: [container.name]
""")
    proc = subprocess.run(
        [PYFALCO, "-c", str(conf), "-r", str(upstream / "rules" / "falco_rules.yaml"),
         "-o", "engine.kind=replay", "-o", f"engine.replay.capture_file={capture}"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    alerts = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [a["rule"] for a in alerts] == ["Terminal shell in container"]
    (alert,) = alerts
    assert alert["output"].endswith(f"container_id={ID[:12]} container_type=docker")
    assert alert["output_fields"]["container.id"] == ID[:12]
    # no runtime socket: the name is not known (Falco's "lookup delays" case)
    assert alert["output_fields"]["container.name"] is None
