#!/usr/bin/env python3
"""Generate ``pyfalco_syscall/_event_table.py`` from falcosecurity/libs' driver sources.

The event table (ids, names, categories, flags, parameter names, types, print formats, flag tables)
is a set of facts kept upstream as C initialisers; spec/scap.md §6.6 asks for it to be generated,
not typed. Usage::

    python plugins/syscall/scripts/gen_event_table.py LIBS_DRIVER_DIR COMMIT > \
        plugins/syscall/src/pyfalco_syscall/_event_table.py

``LIBS_DRIVER_DIR`` holds ``event_table.c`` (the ``g_event_info`` designated initialisers, in enum
order), ``flags_table.c`` (``ppm_name_value`` tables), ``ppm_sc_fields.h`` (the ``PPM_SC_X``
X-macro) and ``ppm_flags.h`` (the ``PPM_*`` value defines the flag tables use), all from
``driver/`` of a libs checkout (the header parts may be split out of ``ppm_events_public.h``).

Checks made while generating (the build fails rather than emit a wrong table): ids follow the
order of the initialisers, and known anchors from spec/scap.md (§5.3, §6.5) sit at their ids.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ENTRY = re.compile(r"^\s*\[(PPME_[A-Z0-9_]+)\]\s*=\s*\{\s*(.*)\},?\s*$")
PARAM = re.compile(
    r"\{\s*\"([^\"]*)\"\s*,\s*(PT_[A-Z0-9_]+)\s*,\s*(PF_[A-Z0-9_]+)\s*(?:,\s*([^{}]*?))?\s*\}"
)
FLAG_TABLE = re.compile(r"ppm_name_value\s+(\w+)\[\]\s*=\s*\{(.*?)\n\};", re.S)
FLAG_ENTRY = re.compile(r"\{\s*\"([^\"]+)\"\s*,\s*([A-Za-z0-9_]+)\s*\}")
DEFINE = re.compile(r"^#define\s+(PPM_[A-Za-z0-9_]+)\s+(.+?)\s*$", re.M)
SC = re.compile(r"PPM_SC_X\((\w+),\s*(\d+)\)")

PT = {
    "PT_NONE": 0, "PT_INT8": 1, "PT_INT16": 2, "PT_INT32": 3, "PT_INT64": 4, "PT_UINT8": 5,
    "PT_UINT16": 6, "PT_UINT32": 7, "PT_UINT64": 8, "PT_CHARBUF": 9, "PT_BYTEBUF": 10,
    "PT_ERRNO": 11, "PT_SOCKADDR": 12, "PT_SOCKTUPLE": 13, "PT_FD": 14, "PT_PID": 15,
    "PT_FDLIST": 16, "PT_FSPATH": 17, "PT_SYSCALLID": 18, "PT_SIGTYPE": 19, "PT_RELTIME": 20,
    "PT_ABSTIME": 21, "PT_PORT": 22, "PT_L4PROTO": 23, "PT_SOCKFAMILY": 24, "PT_BOOL": 25,
    "PT_IPV4ADDR": 26, "PT_DYN": 27, "PT_FLAGS8": 28, "PT_FLAGS16": 29, "PT_FLAGS32": 30,
    "PT_UID": 31, "PT_GID": 32, "PT_DOUBLE": 33, "PT_SIGSET": 34, "PT_CHARBUFARRAY": 35,
    "PT_CHARBUF_PAIR_ARRAY": 36, "PT_IPV4NET": 37, "PT_IPV6ADDR": 38, "PT_IPV6NET": 39,
    "PT_IPADDR": 40, "PT_IPNET": 41, "PT_MODE": 42, "PT_FSRELPATH": 43, "PT_ENUMFLAGS8": 44,
    "PT_ENUMFLAGS16": 45, "PT_ENUMFLAGS32": 46,
}
PF = {"PF_NA": 0, "PF_DEC": 1, "PF_HEX": 2, "PF_10_PADDED_DEC": 3, "PF_ID": 4, "PF_DIR": 5,
      "PF_OCT": 6}
EC = {
    "EC_UNKNOWN": 0, "EC_OTHER": 1, "EC_FILE": 2, "EC_NET": 3, "EC_IPC": 4, "EC_MEMORY": 5,
    "EC_PROCESS": 6, "EC_SLEEP": 7, "EC_SYSTEM": 8, "EC_SIGNAL": 9, "EC_USER": 10, "EC_TIME": 11,
    "EC_PROCESSING": 12, "EC_IO_READ": 32, "EC_IO_WRITE": 33, "EC_IO_OTHER": 34, "EC_WAIT": 64,
    "EC_SCHEDULER": 128, "EC_INTERNAL": 256, "EC_SYSCALL": 512, "EC_TRACEPOINT": 1024,
    "EC_PLUGIN": 2048, "EC_METAEVENT": 4096,
}
EF = {
    "EF_NONE": 0, "EF_CREATES_FD": 1, "EF_DESTROYS_FD": 2, "EF_USES_FD": 4, "EF_READS_FROM_FD": 8,
    "EF_WRITES_TO_FD": 16, "EF_MODIFIES_STATE": 32, "EF_UNUSED": 64, "EF_WAITS": 128,
    "EF_SKIPPARSERESET": 256, "EF_OLD_VERSION": 512, "EF_DROP_SIMPLE_CONS": 1024,
    "EF_LARGE_PAYLOAD": 2048,
}
#: (id, enum name) pairs stated by spec/scap.md; the generated ids must agree.
ANCHORS = {
    3: "PPME_SYSCALL_OPEN_X", 152: "PPME_SCHEDSWITCH_6_E", 186: "PPME_PROCEXIT_1_E",
    223: "PPME_SYSCALL_CLONE_20_X", 234: "PPME_PROCINFO_E", 293: "PPME_SYSCALL_EXECVE_19_X",
    307: "PPME_SYSCALL_OPENAT_2_X", 322: "PPME_PLUGINEVENT_E", 324: "PPME_CONTAINER_JSON_2_E",
    389: "PPME_SOCKET_ACCEPT4_6_X", 402: "PPME_ASYNCEVENT_E", 405: "PPME_SYSCALL_MEMFD_CREATE_X",
}


def _bits(expr: str, table: dict[str, int]) -> int:
    return sum(table[t.strip()] for t in expr.split("|") if t.strip())


def _eval_define(expr: str, defines: dict[str, int]) -> int:
    expr = re.sub(r"/\*.*?\*/", "", expr).strip()
    expr = re.sub(r"PPM_[A-Za-z0-9_]+", lambda m: str(defines[m.group(0)]), expr)
    if not re.fullmatch(r"[0-9xXa-fA-F<>|()\s-]+", expr):
        raise ValueError(f"unsupported define expression {expr!r}")
    return int(eval(expr, {"__builtins__": {}}))  # noqa: S307 - digits and operators only


def parse_events(text: str) -> list[tuple]:
    events = []
    for line in text.splitlines():
        m = ENTRY.match(line)
        if not m:
            continue
        enum, body = m.groups()
        name = re.match(r"\s*\"([^\"]*)\"", body).group(1)
        head = body.split("{", 1)[0]
        parts = [p.strip() for p in head.split(",")]
        category = _bits(parts[1], EC)
        flags = _bits(parts[2], EF)
        nparams = int(parts[3])
        params = []
        for pm in PARAM.finditer(body[len(head):]):
            pname, ptype, pfmt, info = pm.groups()
            extra: object = None
            if info:
                info = info.strip()
                d = re.match(r"DIRFD_PARAM\((\d+)\)", info)
                if d:
                    extra = int(d.group(1))
                else:
                    extra = info.split(",")[0].strip()
            params.append((pname, PT[ptype], PF[pfmt], extra))
        if len(params) != nparams:
            raise SystemExit(f"{enum}: {nparams} params declared, {len(params)} parsed")
        events.append((enum, name, category, flags, tuple(params)))
    return events


def parse_flag_tables(text: str, defines: dict[str, int]) -> dict[str, tuple]:
    tables = {}
    for m in FLAG_TABLE.finditer(text):
        entries = []
        for fm in FLAG_ENTRY.finditer(m.group(2)):
            entries.append((fm.group(1), defines[fm.group(2)]))
        tables[m.group(1)] = tuple(entries)
    return tables


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src, commit = Path(argv[0]), argv[1]
    events = parse_events((src / "event_table.c").read_text())
    for eid, enum in ANCHORS.items():
        if events[eid][0] != enum:
            raise SystemExit(f"anchor mismatch at {eid}: {events[eid][0]} != {enum}")
    defines: dict[str, int] = {}
    for name, expr in DEFINE.findall((src / "ppm_flags.h").read_text()):
        defines[name] = _eval_define(expr, defines)
    tables = parse_flag_tables((src / "flags_table.c").read_text(), defines)
    sc_names = {int(v): n.lower() for n, v in SC.findall((src / "ppm_sc_fields.h").read_text())}

    out = [
        '"""The libs event table, generated by plugins/syscall/scripts/gen_event_table.py.',
        "",
        "Source: falcosecurity/libs driver/ (event_table.c, flags_table.c, ppm_events_public.h) at",
        f"commit {commit}. Facts only (ids, names, types); do not edit by hand: regenerate.",
        '"""',
        "",
        "# ruff: noqa: E501",
        f"UPSTREAM_COMMIT = {commit!r}",
        "",
        "#: Indexed by event id: (enum name, event name, category bits, flag bits,",
        "#: ((param name, PT_* type id, PF_* print format, info), ...)). ``info`` is the flag",
        "#: table name for flag types, the dirfd parameter index for FSRELPATH, the dynamic",
        "#: table for DYN.",
        "EVENTS = (",
    ]
    for ev in events:
        out.append(f"    {ev!r},")
    out.append(")")
    out.append("")
    out.append("#: ppm_sc code -> lower-case syscall name (``evt.type`` of generic events).")
    out.append("PPM_SC_NAMES = {")
    for code in sorted(sc_names):
        out.append(f"    {code}: {sc_names[code]!r},")
    out.append("}")
    out.append("")
    out.append("#: Flag tables: name -> ((flag name, value), ...) in upstream (rendering) order.")
    out.append("FLAG_TABLES = {")
    for name, entries in tables.items():
        out.append(f"    {name!r}: {entries!r},")
    out.append("}")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
