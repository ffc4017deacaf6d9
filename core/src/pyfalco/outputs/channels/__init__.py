"""Output channels, by falco.yaml name (``<name>_output``)."""

from __future__ import annotations

from .base import Channel, ChannelInitError, ChannelSettings, DeliveryError, Message
from .file import FileChannel
from .http import HttpChannel
from .program import ProgramChannel
from .stdout import StdoutChannel
from .syslog import SyslogChannel

CHANNELS: dict[str, type[Channel]] = {
    "file": FileChannel,
    "stdout": StdoutChannel,
    "syslog": SyslogChannel,
    "program": ProgramChannel,
    "http": HttpChannel,
}

__all__ = [
    "CHANNELS", "Channel", "ChannelInitError", "ChannelSettings", "DeliveryError", "Message",
    "FileChannel", "HttpChannel", "ProgramChannel", "StdoutChannel", "SyslogChannel",
]
