"""gVisor's runtime-monitoring protobuf messages, built from the committed descriptor set.

``gvisor.binpb`` is compiled from the .proto files beside it by
``plugins/gvisor/scripts/generate_descriptors.py``; a test checks it is not stale. The classes
live in a private descriptor pool so they can never clash with another copy of gVisor's schema
loaded in the same process.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_POOL = descriptor_pool.DescriptorPool()
for _file in descriptor_pb2.FileDescriptorSet.FromString(
    files(__name__).joinpath("gvisor.binpb").read_bytes()
).file:
    _POOL.Add(_file)


def message_class(full_name: str) -> Any:
    """The generated class of ``full_name`` (``"gvisor.syscall.Open"``)."""
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(full_name))


Handshake = message_class("gvisor.common.Handshake")
ContextData = message_class("gvisor.common.ContextData")

#: MessageType value -> its name in gvisor.common.MessageType.
MESSAGE_TYPE_NAMES: dict[int, str] = {
    v.number: v.name for v in _POOL.FindEnumTypeByName("gvisor.common.MessageType").values
}

# MessageType name -> payload message (shared/spec/gvisor.md §4).
_PAYLOADS = {
    "MESSAGE_CONTAINER_START": "gvisor.container.Start",
    "MESSAGE_SENTRY_CLONE": "gvisor.sentry.CloneInfo",
    "MESSAGE_SENTRY_EXEC": "gvisor.sentry.ExecveInfo",
    "MESSAGE_SENTRY_EXIT_NOTIFY_PARENT": "gvisor.sentry.ExitNotifyParentInfo",
    "MESSAGE_SENTRY_TASK_EXIT": "gvisor.sentry.TaskExit",
    "MESSAGE_SYSCALL_RAW": "gvisor.syscall.Syscall",
    "MESSAGE_SYSCALL_OPEN": "gvisor.syscall.Open",
    "MESSAGE_SYSCALL_CLOSE": "gvisor.syscall.Close",
    "MESSAGE_SYSCALL_READ": "gvisor.syscall.Read",
    "MESSAGE_SYSCALL_CONNECT": "gvisor.syscall.Connect",
    "MESSAGE_SYSCALL_EXECVE": "gvisor.syscall.Execve",
    "MESSAGE_SYSCALL_SOCKET": "gvisor.syscall.Socket",
    "MESSAGE_SYSCALL_CHDIR": "gvisor.syscall.Chdir",
    "MESSAGE_SYSCALL_SETID": "gvisor.syscall.Setid",
    "MESSAGE_SYSCALL_SETRESID": "gvisor.syscall.Setresid",
    "MESSAGE_SYSCALL_PRLIMIT64": "gvisor.syscall.Prlimit",
    "MESSAGE_SYSCALL_PIPE": "gvisor.syscall.Pipe",
    "MESSAGE_SYSCALL_FCNTL": "gvisor.syscall.Fcntl",
    "MESSAGE_SYSCALL_DUP": "gvisor.syscall.Dup",
    "MESSAGE_SYSCALL_SIGNALFD": "gvisor.syscall.Signalfd",
    "MESSAGE_SYSCALL_CHROOT": "gvisor.syscall.Chroot",
    "MESSAGE_SYSCALL_EVENTFD": "gvisor.syscall.Eventfd",
    "MESSAGE_SYSCALL_CLONE": "gvisor.syscall.Clone",
    "MESSAGE_SYSCALL_BIND": "gvisor.syscall.Bind",
    "MESSAGE_SYSCALL_ACCEPT": "gvisor.syscall.Accept",
    "MESSAGE_SYSCALL_TIMERFD_CREATE": "gvisor.syscall.TimerfdCreate",
    "MESSAGE_SYSCALL_TIMERFD_SETTIME": "gvisor.syscall.TimerfdSetTime",
    "MESSAGE_SYSCALL_TIMERFD_GETTIME": "gvisor.syscall.TimerfdGetTime",
    "MESSAGE_SYSCALL_FORK": "gvisor.syscall.Fork",
    "MESSAGE_SYSCALL_INOTIFY_INIT": "gvisor.syscall.InotifyInit",
    "MESSAGE_SYSCALL_INOTIFY_ADD_WATCH": "gvisor.syscall.InotifyAddWatch",
    "MESSAGE_SYSCALL_INOTIFY_RM_WATCH": "gvisor.syscall.InotifyRmWatch",
    "MESSAGE_SYSCALL_SOCKETPAIR": "gvisor.syscall.SocketPair",
    "MESSAGE_SYSCALL_WRITE": "gvisor.syscall.Write",
}

#: MessageType value -> payload class (every type of the schema except MESSAGE_UNKNOWN).
PAYLOAD_CLASSES: dict[int, Any] = {
    number: message_class(_PAYLOADS[name])
    for number, name in MESSAGE_TYPE_NAMES.items()
    if name in _PAYLOADS
}
