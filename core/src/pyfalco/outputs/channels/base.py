"""The shape every output channel has (Falco's ``abstract_output``)."""

from __future__ import annotations

from dataclasses import dataclass

from ...priority import Priority
from ..config import ChannelConfig


class ChannelInitError(Exception):
    """The channel cannot start; the manager logs ``Failed to init output: <msg>`` and skips it."""


class DeliveryError(Exception):
    """A message could not be delivered (after any retries the channel allows): it is lost,
    and the manager counts it against the channel."""


@dataclass(frozen=True)
class ChannelSettings:
    """Settings shared by every channel (global falco.yaml keys)."""

    buffered: bool = False
    json_output: bool = False
    #: ``output_timeout`` in seconds: also the per-attempt timeout of network channels.
    timeout_s: float = 2.0
    hostname: str = ""


class Message:
    """A formatted line on its way to the channels."""

    __slots__ = ("text", "priority", "internal")

    def __init__(self, text: str, priority: Priority, internal: bool = False) -> None:
        self.text = text
        self.priority = priority
        self.internal = internal


def encode_line(text: str) -> bytes:
    """UTF-8 bytes of ``text``; bytes decoded with surrogateescape come back unchanged (Falco
    writes raw bytes), anything else unencodable becomes U+FFFD rather than failing the alert."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


class Channel:
    """One output. The single outputs worker is the only caller, so channels need no locks.

    ``write`` delivers one message or raises (``DeliveryError`` or any ``OSError``): the
    message is then lost and counted. A channel may only stage the line and deliver it in
    ``flush``, which the worker calls after each run of messages it took from the queue at
    once. ``retries`` counts extra attempts the channel made.
    """

    name = "abstract"

    def __init__(self, config: ChannelConfig, settings: ChannelSettings) -> None:
        self.config = config
        self.settings = settings
        self.retries = 0

    def open(self) -> None:
        """Check the configuration and acquire what the channel needs up front."""

    def write(self, msg: Message) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """The end of a run of messages: what ``write`` staged is delivered now (and flushed
        unless ``buffered_outputs``). Raising loses the lines staged since the last flush."""

    def reopen(self) -> None:
        """SIGUSR1: file and program outputs reopen; others ignore it."""

    def cleanup(self) -> None:
        """Flush (at shutdown, before ``close``)."""

    def close(self) -> None:
        """Release everything; the channel is not used again."""
