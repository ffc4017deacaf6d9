"""Text forms of event parameters: ``evt.arg.*``, ``evt.args``, ``evt.info`` (spec/scap.md
§6.4, §8).

Each parameter has a *plain* rendering (the number, the string) and, for some types, a *resolved*
one (an fd's ``<f>/etc/passwd``, flag names, an errno name, a uid's user name, an absolute path).
``evt.arg.NAME`` is the resolved string when there is one, else the plain one; ``evt.args`` shows
``name=plain(resolved)``.
"""

from __future__ import annotations

import errno as _errno
import signal as _signal
from typing import Any

from ._event_table import PPM_SC_NAMES
from .events import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    ENUM_TYPES,
    FLAG_TYPES,
    PF_HEX,
    PF_OCT,
    PT_BYTEBUF,
    PT_DYN,
    PT_ERRNO,
    PT_FD,
    PT_FDLIST,
    PT_FSPATH,
    PT_FSRELPATH,
    PT_GID,
    PT_MODE,
    PT_PID,
    PT_SIGTYPE,
    PT_SOCKADDR,
    PT_SOCKTUPLE,
    PT_SYSCALLID,
    PT_UID,
    STRING_TYPES,
    ParamInfo,
    SyscallEvent,
    enum_name,
    flag_names,
)
from .state import AT_FDCWD, L4_NAMES, concatenate_paths, ipv4_str, ipv6_str

_NULL_TYPES = frozenset({PT_BYTEBUF, PT_SOCKTUPLE, PT_SOCKADDR, PT_FDLIST, PT_DYN})
_SIGNAMES = {int(s): s.name for s in _signal.Signals if not s.name.startswith("SIG_")}


def _st(evt: SyscallEvent) -> Any:
    if evt.st is not None:
        return evt.st
    from .state import default_state

    return default_state()


def errno_name(code: int) -> str:
    return _errno.errorcode.get(-code, str(code)) if code < 0 else str(code)


def _ip(raw: bytes) -> str:
    return ipv4_str(raw) if len(raw) == 4 else ipv6_str(raw)


def sockaddr_str(v: tuple) -> str:
    fam = v[0]
    if fam in (AF_INET, AF_INET6) and len(v) == 3:
        return f"{_ip(v[1])}:{v[2]}"
    if fam == AF_UNIX and len(v) == 2:
        return v[1]
    return f"family {fam}"


def socktuple_str(v: tuple) -> str:
    fam = v[0]
    if fam in (AF_INET, AF_INET6) and len(v) == 5:
        return f"{_ip(v[1])}:{v[2]}->{_ip(v[3])}:{v[4]}"
    if fam == AF_UNIX and len(v) == 4:
        return f"{v[1]:x}->{v[2]:x} {v[3]}"
    return f"family {fam}"


def bytebuf_str(b: bytes) -> str:
    return "".join(chr(c) if 32 <= c < 127 else "." for c in b)


def fd_tag(fdi: Any) -> str:
    """``<f>`` / ``<4t>``: the type prefix of a resolved fd."""
    l4 = ""
    if fdi.is_inet:
        l4 = L4_NAMES.get(fdi.l4proto, "")[:1]
    return f"<{fdi.typechar}{l4}>"


def plain(p: ParamInfo, v: Any) -> str | None:
    """The plain text of a parameter value (``None`` = empty: ``<NA>``, or ``NULL`` for buffer-like
    types)."""
    if v is None:
        return "NULL" if p.type in _NULL_TYPES else None
    t = p.type
    if isinstance(v, int):
        if p.fmt == PF_HEX and t not in (PT_FD, PT_PID) and t not in FLAG_TYPES:
            return f"{v & 0xFFFFFFFFFFFFFFFF:X}"
        if p.fmt == PF_OCT and t not in FLAG_TYPES:
            return f"0{v:o}" if v else "0"
        return str(v)
    if t in STRING_TYPES:
        return v
    if t == PT_BYTEBUF:
        return bytebuf_str(v)
    if t == PT_SOCKTUPLE:
        return socktuple_str(v)
    if t == PT_SOCKADDR:
        return sockaddr_str(v)
    if t == PT_FDLIST:
        return " ".join(f"{fd}:{ev:x}" for fd, ev in v)
    if t == PT_DYN:
        return str(v[1])
    return str(v)


def resolved(evt: SyscallEvent, p: ParamInfo, v: Any) -> str | None:
    """The resolved text of a parameter, or ``None`` when the type has none."""
    if v is None:
        return None
    t = p.type
    if t == PT_FD:
        if v == AT_FDCWD:
            return "AT_FDCWD"
        if v < 0:
            return errno_name(v)
        th = evt.thread
        if th is None:
            return None
        fdi = th.fds.get(v)
        if fdi is None:
            return None
        return fd_tag(fdi) + fdi.name
    if t == PT_ERRNO:
        return errno_name(v) if v < 0 else None
    if t in FLAG_TYPES or t == PT_MODE:
        table = p.info if isinstance(p.info, str) else ("chmod_mode" if t == PT_MODE else None)
        return flag_names(table, v) if table else None
    if t in ENUM_TYPES:
        return enum_name(p.info, v) if isinstance(p.info, str) else None
    if t == PT_UID:
        if v == 0xFFFFFFFF:
            return None
        return _st(evt).user_name(v)
    if t == PT_GID:
        if v == 0xFFFFFFFF:
            return None
        return _st(evt).group_name(v)
    if t == PT_PID:
        th = _st(evt).threads.get(v)
        return th.comm if th is not None else None
    if t == PT_SIGTYPE:
        return _SIGNAMES.get(v)
    if t == PT_SYSCALLID:
        return PPM_SC_NAMES.get(v)
    if t == PT_FSPATH:
        if v.startswith("/") or evt.thread is None:
            return None
        return concatenate_paths(evt.thread.cwd, v)
    if t == PT_FSRELPATH:
        if v.startswith("/") or evt.thread is None:
            return None
        dirfd_idx = p.info if isinstance(p.info, int) else None
        dirfd = None
        if dirfd_idx is not None and dirfd_idx < len(evt.info.params):
            dirfd = evt.param(evt.info.params[dirfd_idx].name)
        base = _st(evt).resolve_dirfd(evt.thread, dirfd, v)
        return concatenate_paths(base, v)
    return None


def arg_text(evt: SyscallEvent, name: str) -> str | None:
    """``evt.arg.NAME``."""
    p = evt.param_info(name)
    if p is None:
        return None
    v = evt.param(name)
    r = resolved(evt, p, v)
    if r:
        return r
    return plain(p, v)


def arg_text_index(evt: SyscallEvent, idx: int) -> str | None:
    """``evt.arg[N]`` (over the wire parameters of the event's own table entry first)."""
    params = evt.info.params
    if idx < 0 or idx >= len(params):
        return None
    return arg_text(evt, params[idx].name)


def args_text(evt: SyscallEvent) -> str:
    """``evt.args``: ``name=value(resolved)`` pairs; empty for generic exits."""
    if evt.etype == 1:
        return ""
    parts = []
    for p in evt.info.params:
        v = evt.param(p.name)
        pl = plain(p, v)
        if pl is None:
            pl = "<NA>"
        r = resolved(evt, p, v)
        parts.append(f"{p.name}={pl}({r}) " if r else f"{p.name}={pl} ")
    return "".join(parts)  # libsinsp leaves a blank after every pair
