"""``-i`` (ignored syscalls) and ``--list-events`` (the event table), as Falco prints them.

Both read the syscall event table of pyfalco-plugin-syscall when it is installed (the core has
no table of its own: syscall support is a plugin, core README). Without it they fail with an
error that names the package to install, as an unknown engine kind does.

Falco's formats (spec/falco-core.md §9.1, falco's print_ignored_events / print_syscall_events):
``-i`` prints ``Ignored syscall(s):``, one ``- <name>`` line per syscall of ``ignored_sc_set()``
(high-volume I/O the state does not need) and an empty line. ``--list-events`` prints the schema
line, then four sections (syscall, tracepoint, plugin events, metaevents), one line per event
direction: ``> name(TYPE **param**, FLAGS32 **flags**: A, B)`` in text, a ``Default | Dir |
Name | Params`` table in markdown. ``Default`` says whether Falco captures the event by default
(every event but the ignored I/O ones). Generic syscalls (no dedicated event) are listed once per
syscall name under the generic event's schema, as Falco does. pyfalco decision: set orders are
sorted (Falco's come from hash sets, in no stable order), and ``--format json`` prints the same
facts as one JSON object (``{"syscall": [...], "tracepoint": [...], "plugin": [...],
"metaevent": [...]}``, each entry ``{"name", "dir", "default", "params": [{"name", "type",
"flags"?}]}``).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..errors import PluginError

SYSCALL_PACKAGE = "pyfalco-plugin-syscall"

#: libsinsp's ``param_type_to_string`` names that differ from the PT_* constant's suffix.
_TYPE_NAME_EXCEPTIONS = {"DYN": "DYNAMIC"}
_FLAG_TYPES = ("FLAGS8", "FLAGS16", "FLAGS32", "ENUMFLAGS8", "ENUMFLAGS16", "ENUMFLAGS32")
#: libs' tracepoint ppm_sc codes, which share the code space with syscalls but are no syscall.
_TRACEPOINT_SCS = frozenset({"sched_process_exit", "sched_switch", "page_fault_user",
                             "page_fault_kernel", "signal_deliver", "sys_enter", "sys_exit",
                             "sched_process_fork", "sched_process_exec", "sched_prog_exec",
                             "sched_prog_fork"})
_SECTIONS = (("syscall", "Syscall events"), ("tracepoint", "Tracepoint events"),
             ("plugin", "Plugin events"), ("metaevent", "Metaevents"))


def _syscall_modules(what: str) -> tuple[ModuleType, ModuleType]:
    try:
        events = importlib.import_module("pyfalco_syscall.events")
        interesting = importlib.import_module("pyfalco_syscall.ebpf.interesting")
    except ImportError as exc:
        raise PluginError(
            f"{what} needs the syscall event table: install {SYSCALL_PACKAGE} ({exc})"
        ) from exc
    return events, interesting


def ignored_syscalls() -> list[str]:
    """Falco's ``ignored_sc_set()`` by name, sorted."""
    _events, interesting = _syscall_modules("-i")
    return sorted(interesting.IGNORED_SET)


def render_ignored(names: list[str]) -> str:
    return "Ignored syscall(s):\n" + "".join(f"- {n}\n" for n in names) + "\n"


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: str
    flags: tuple[str, ...] | None  # flag names, for flag types with a table


@dataclass(frozen=True, slots=True)
class EventEntry:
    section: str  # one of _SECTIONS' keys
    dir: str  # ">" enter, "<" exit
    name: str
    default: bool  # captured by default (not one of the ignored I/O syscalls)
    params: tuple[Param, ...]


def event_entries() -> list[EventEntry]:
    """Every current, used, known event of the table, generic syscalls expanded by name."""
    ev, interesting = _syscall_modules("--list-events")
    ignored = frozenset(interesting.IGNORED_SET)
    type_names = {
        v: _TYPE_NAME_EXCEPTIONS.get(k[3:], k[3:])
        for k, v in vars(ev).items() if k.startswith("PT_") and isinstance(v, int)
    }

    def params(info: Any) -> tuple[Param, ...]:
        out = []
        for p in info.params[: info.wire_params]:
            tname = type_names.get(p.type, str(p.type))
            flags = None
            if tname in _FLAG_TYPES and isinstance(p.info, str) and p.info in ev.FLAG_TABLES:
                flags = tuple(name for name, _v in ev.FLAG_TABLES[p.info])
            out.append(Param(p.name, tname, flags))
        return tuple(out)

    def section(info: Any) -> str | None:
        for bit, key in ((ev.EC_SYSCALL, "syscall"), (ev.EC_TRACEPOINT, "tracepoint"),
                         (ev.EC_PLUGIN, "plugin"), (ev.EC_METAEVENT, "metaevent")):
            if info.category & bit:
                return key
        return None

    entries: list[EventEntry] = []
    generic: list[Any] = []
    dedicated: set[str] = set()
    for info in ev.EVENT_TABLE:
        if info.id in (0, 1):  # PPME_GENERIC_E/X: expanded below
            generic.append(info)
            continue
        key = section(info)
        if info.old or info.unused or info.low_category == ev.EC_UNKNOWN or key is None:
            continue
        dedicated.add(info.name)
        entries.append(EventEntry(key, info.dir, info.name, info.name not in ignored,
                                  params(info)))
    # generic syscalls: every known syscall name without a dedicated event
    for name in sorted(set(ev.PPM_SC_NAMES.values()) - dedicated - _TRACEPOINT_SCS):
        for info in generic:
            entries.append(EventEntry("syscall", info.dir, name, name not in ignored,
                                      params(info)))
    return entries


def _param_text(p: Param, markdown: bool) -> str:
    text = f"{p.type} **{p.name}**"
    if p.flags:
        text += ": " + ", ".join(f"*{f}*" if markdown else f for f in p.flags)
    return text


def render_events(entries: list[EventEntry], fmt: str) -> str:
    """``--list-events`` in ``text``, ``markdown`` or ``json``."""
    if fmt == "json":
        doc: dict[str, list[dict[str, Any]]] = {key: [] for key, _title in _SECTIONS}
        for e in entries:
            doc[e.section].append({
                "name": e.name, "dir": e.dir, "default": e.default,
                "params": [{"name": p.name, "type": p.type,
                            **({"flags": list(p.flags)} if p.flags else {})} for p in e.params],
            })
        return json.dumps(doc, indent=2) + "\n"
    markdown = fmt == "markdown"
    lines = ["The events below are valid for Falco *Schema Version*: "
             f"{_schema_version()}"]
    for i, (key, title) in enumerate(_SECTIONS):
        lines.append(("" if i == 0 else "\n\n") + f"## {title}\n")
        if markdown:
            lines += ["Default | Dir | Name | Params ", ":-------|:----|:-----|:-----"]
        for e in entries:
            if e.section != key:
                continue
            ps = ", ".join(_param_text(p, markdown) for p in e.params)
            if markdown:
                lines.append(f"{'Yes' if e.default else 'No'} | `{e.dir}` | `{e.name}` | {ps}")
            else:
                lines.append(f"{e.dir} {e.name}({ps})")
    return "\n".join(lines) + "\n"


def _schema_version() -> str:
    # the version Falco prints is its driver's; pyfalco's drivers are plugins (as --version says)
    return "none (drivers are plugins)"
