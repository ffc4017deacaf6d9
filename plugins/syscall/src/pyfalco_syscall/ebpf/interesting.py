"""Falco's interesting-set selection (``configure_interesting_sets``) for the eBPF driver.

selected = rules' event types  ∪  plugins' parse needs  ∪  base set
  base set = libsinsp's state set, or the positive names of ``base_syscalls.custom_set`` when
             there are any; with ``base_syscalls.repair`` and no positive names, libsinsp's
             *repair* set built from the rules' types instead
  − negative names (``!name``) of the custom set
  − high-volume I/O syscalls not needed by the state (unless ``base_syscalls.all``)
  ∪ libsinsp's repair set of the result, when ``repair`` is on and the custom set is not empty
  ∪ ``procexit`` (always: the thread table would grow forever without it).

The sets below are libsinsp's, by event name (x86_64): ``STATE_SET`` = events flagged
EF_MODIFIES_STATE (``sinsp_state_sc_set``), ``IO_SET`` = categories IO_READ/IO_WRITE.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .specs import EVENT_TO_SYSCALL
from .syscall_table import SYSCALL_NRS

log = logging.getLogger("pyfalco.syscall.ebpf")

STATE_SET = frozenset({
    # process tree
    "clone", "clone3", "fork", "vfork", "execve", "execveat", "procexit",
    # identity and process attributes
    "setuid", "setgid", "setresuid", "setresgid", "setreuid", "setregid", "setpgid", "setsid",
    "capset", "prctl", "chroot", "chdir", "fchdir", "setrlimit", "prlimit64", "unshare", "setns",
    # fd creation
    "open", "openat", "openat2", "creat", "open_by_handle_at", "socket", "socketpair", "accept",
    "accept4", "pipe", "pipe2", "dup", "dup2", "dup3", "fcntl", "memfd_create", "eventfd",
    "eventfd2", "signalfd", "signalfd4", "timerfd_create", "inotify_init", "inotify_init1",
    "epoll_create", "epoll_create1", "userfaultfd", "bpf", "io_uring_setup", "pidfd_open",
    "pidfd_getfd",
    # fd update and removal
    "bind", "connect", "getsockopt", "recvfrom", "recvmsg", "sendto", "sendmsg", "shutdown",
    "close", "close_range",
})

IO_SET = frozenset({
    "read", "write", "pread64", "pwrite64", "readv", "writev", "preadv", "pwritev", "preadv2",
    "pwritev2", "recvfrom", "sendto", "recvmsg", "sendmsg", "recvmmsg", "sendmmsg", "sendfile",
    "splice", "tee", "vmsplice", "copy_file_range", "process_vm_readv", "process_vm_writev",
})

#: Falco's ``ignored_sc_set()``: high-volume I/O that the state does not need.
IGNORED_SET = IO_SET - STATE_SET

NET_SET = frozenset({
    "socket", "socketpair", "connect", "accept", "accept4", "bind", "listen", "getsockopt",
    "setsockopt", "shutdown", "recvfrom", "sendto", "recvmsg", "sendmsg", "recvmmsg", "sendmmsg",
    "getsockname", "getpeername",
})
FILE_OR_IO_SET = frozenset({
    "open", "openat", "openat2", "creat", "open_by_handle_at", "read", "write", "pread64",
    "pwrite64", "readv", "writev", "close", "dup", "dup2", "dup3", "fcntl", "pipe", "pipe2",
    "sendfile", "splice", "ioctl", "lseek", "fstat",
}) | IO_SET

_REPAIR_BASE = frozenset({
    "clone", "clone3", "fork", "vfork", "execve", "execveat", "fchdir", "chdir", "chroot",
    "capset", "setgid", "setpgid", "setresgid", "setresuid", "setsid", "setuid", "prctl",
    "procexit",
})

#: Event names that are not syscalls but are always valid in the set.
NON_SYSCALL_EVENTS = frozenset({"procexit"})


def repair_set(names: frozenset[str]) -> frozenset[str]:
    """libsinsp's ``sinsp_repair_state_sc_set``: the minimum the state needs beside ``names``."""
    out = set(_REPAIR_BASE)
    if names & NET_SET:
        out |= {"socket", "getsockopt", "close"}
    if names & {"accept", "accept4", "listen"}:
        out.add("bind")
    if names & FILE_OR_IO_SET:
        out.add("close")
    return frozenset(out | names)


def known_event_name(name: str) -> bool:
    return name in NON_SYSCALL_EVENTS or EVENT_TO_SYSCALL.get(name, name) in SYSCALL_NRS


@dataclass
class BaseSyscalls:
    """falco.yaml ``base_syscalls``."""

    custom_set: list[str] = field(default_factory=list)
    repair: bool = False
    all: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> BaseSyscalls:
        section = config.get("base_syscalls") or {}
        if not isinstance(section, Mapping):
            raise ValueError("base_syscalls: expected a mapping")
        custom = section.get("custom_set") or []
        if not isinstance(custom, list) or not all(isinstance(x, str) for x in custom):
            raise ValueError("base_syscalls.custom_set: expected a list of syscall names")
        return cls(list(custom), bool(section.get("repair", False)),
                   bool(section.get("all", False)))


@dataclass
class Selection:
    """The result, with what Falco logs about it."""

    events: frozenset[str]  # selected event names (syscalls + procexit)
    rules: frozenset[str]
    unsupported: frozenset[str]  # rule types not selected (Falco's unsupported-evttype warning)
    warnings: list[str]

    @property
    def syscalls(self) -> frozenset[str]:
        """Kernel syscall names to enable (event names mapped to syscall names)."""
        return frozenset(EVENT_TO_SYSCALL.get(e, e) for e in self.events
                         if e not in NON_SYSCALL_EVENTS)


def select(
    rule_types: Iterable[str] | None,
    base: BaseSyscalls,
    plugin_types: Iterable[str] = (),
) -> Selection:
    """Falco's selection. ``rule_types`` None means the rules can match any event type: every
    known syscall is then selected (still minus the I/O set unless ``all``)."""
    warnings: list[str] = []
    if rule_types is None:
        rules = frozenset(n for n in SYSCALL_NRS) | NON_SYSCALL_EVENTS
    else:
        rules = frozenset(n for n in rule_types if known_event_name(n))
    positive = {n for n in base.custom_set if n and not n.startswith("!")}
    negative = {n[1:] for n in base.custom_set if n.startswith("!")}
    valid_pos = {n for n in positive if known_event_name(n)}
    valid_neg = {n for n in negative if known_event_name(n)}
    if positive - valid_pos:
        warnings.append("Invalid (positive) syscall names: warning (base_syscalls override): "
                        + ", ".join(sorted(positive - valid_pos)))
    base_set = frozenset(valid_pos) if valid_pos else STATE_SET
    selected = rules | frozenset(plugin_types) | base_set
    if base.repair and not valid_pos:
        selected = repair_set(rules)
    if valid_neg:
        selected -= valid_neg
    if negative - valid_neg:
        warnings.append("Invalid (negative) syscall names: warning (base_syscalls override): "
                        + ", ".join(sorted(negative - valid_neg)))
    if not base.all:
        selected -= IGNORED_SET
    if base.repair and base.custom_set:
        selected = repair_set(selected)
    selected |= {"procexit"}
    unsupported = rules - selected
    if unsupported and rule_types is not None:
        warnings.append(
            "Loaded rules match syscalls that are not activated (e.g. were removed via config "
            "settings such as no -A flag or negative base_syscalls elements) or unsupported with "
            "current configuration: warning (unsupported-evttype): "
            + ", ".join(sorted(unsupported)))
    return Selection(frozenset(selected), rules, frozenset(unsupported), warnings)
