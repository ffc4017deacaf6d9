"""Small field tables for rule-language tests: a syscall-like table over dict-backed events."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from pyfalco.api import Event, FieldArg, FieldSpec, FieldTable, FieldType
from pyfalco.rules import FieldCatalog, RulesContent, RulesEngine
from pyfalco.rules.fields import FILTER_ONLY, MATCH_ANY, MATCH_ENDPOINTS


class FakeEvent(Event):
    """An event whose fields are given directly: ``FakeEvent(type="open", **{"proc.name": x})``."""

    __slots__ = ("values",)

    def __init__(self, type: str = "open", source: str = "syscall", num: int = 1,
                 ts: int = 1_700_000_000_123456789, **values: Any) -> None:
        super().__init__(b"", ts=ts, source=source, type=type, num=num)
        self.values = {k.replace("__", "."): v for k, v in values.items()}


def ev(type: str = "open", **values: Any) -> FakeEvent:
    """``ev("open", proc_name="cat")``: underscores after the first become dots as needed."""
    fixed = {}
    for k, v in values.items():
        fixed[_name(k)] = v
    e = FakeEvent(type)
    e.values = fixed
    return e


_NAMES = {
    "proc_name": "proc.name", "proc_pname": "proc.pname", "proc_cmdline": "proc.cmdline",
    "fd_name": "fd.name", "fd_num": "fd.num", "proc_aname": "proc.aname", "fd_ip": "fd.ip",
    "fd_net": "fd.net", "fd_snet": "fd.snet", "fd_sip": "fd.sip", "evt_arg": "evt.arg",
    "proc_args": "proc.args", "fd_types": "fd.types", "evt_is_open_write": "evt.is_open_write",
    "fd_sport": "fd.sport", "proc_duration": "proc.duration", "user_uid": "user.uid",
    "evt_rawres": "evt.rawres", "proc_env": "proc.env", "fd_directory": "fd.directory",
    "evt_buffer": "evt.buffer",
}


def _name(k: str) -> str:
    return _NAMES.get(k, k)


def _plain(name: str):
    return lambda e: e.values.get(name)


def _indexed(name: str):
    def extract(e: Event, arg: Any = None) -> Any:
        v = e.values.get(name)
        if v is None:
            return None
        if arg is None:
            return v  # a list of ancestors (match_any)
        return v[arg] if 0 <= arg < len(v) else None
    return extract


def _keyed(name: str):
    def extract(e: Event, arg: Any = None) -> Any:
        v = e.values.get(name)
        if v is None or arg is None:
            return None
        return v.get(arg)
    return extract


def spec(name: str, t: FieldType, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, type=t, desc=f"{name} for tests", extract=_plain(name), **kw)


SYSCALL_FIELDS = FieldTable(plugin="fakesys", sources=("syscall",), fields=[
    spec("proc.name", FieldType.CHARBUF),
    spec("proc.pname", FieldType.CHARBUF),
    spec("proc.cmdline", FieldType.CHARBUF),
    spec("proc.args", FieldType.CHARBUF),
    spec("fd.name", FieldType.FSPATH),
    spec("fd.directory", FieldType.FSPATH),
    spec("fd.num", FieldType.INT64),
    spec("fd.sport", FieldType.PORT),
    spec("proc.duration", FieldType.RELTIME),
    spec("user.uid", FieldType.UINT32),
    spec("evt.rawres", FieldType.INT64),
    spec("evt.is_open_write", FieldType.BOOL),
    spec("fd.sip", FieldType.IPADDR),
    spec("fd.snet", FieldType.IPNET),
    spec("evt.buffer", FieldType.BYTEBUF),
    spec("fd.types", FieldType.CHARBUF, is_list=True),
    spec("fd.filename", FieldType.CHARBUF),
    spec("fd.typechar", FieldType.CHARBUF),
    spec("fd.cport", FieldType.PORT),
    spec("evt.is_open_read", FieldType.BOOL),
    spec("evt.args", FieldType.CHARBUF),
    spec("evt.dir", FieldType.CHARBUF),
    spec("user.name", FieldType.CHARBUF),
    spec("user.loginuid", FieldType.INT64),
    FieldSpec(name="proc.apid", type=FieldType.PID, desc="ancestor pids",
              extract=_indexed("proc.apid"), arg=FieldArg(index=True),
              properties=frozenset({MATCH_ANY})),
    FieldSpec(name="fd.ip", type=FieldType.IPADDR, desc="either endpoint",
              extract=_plain("fd.ip"), properties=frozenset({MATCH_ENDPOINTS, FILTER_ONLY})),
    FieldSpec(name="fd.net", type=FieldType.IPNET, desc="either endpoint net",
              extract=_plain("fd.net"), properties=frozenset({MATCH_ENDPOINTS, FILTER_ONLY})),
    FieldSpec(name="proc.aname", type=FieldType.CHARBUF, desc="ancestor names",
              extract=_indexed("proc.aname"), arg=FieldArg(index=True),
              properties=frozenset({MATCH_ANY})),
    FieldSpec(name="evt.arg", type=FieldType.CHARBUF, desc="event argument",
              extract=_keyed("evt.arg"), arg=FieldArg(required=True, index=True, key=True)),
    FieldSpec(name="proc.env", type=FieldType.CHARBUF, desc="environment",
              extract=_keyed("proc.env"), arg=FieldArg(key=True)),
])

PLUGIN_FIELDS = FieldTable(plugin="fakeaudit", sources=("k8s_audit",), fields=[
    spec("ka.user.name", FieldType.STRING),
    spec("ka.verb", FieldType.STRING),
    spec("ka.req.pod.containers.image", FieldType.STRING, is_list=True),
])


@pytest.fixture
def catalog() -> FieldCatalog:
    return FieldCatalog.from_tables([SYSCALL_FIELDS, PLUGIN_FIELDS],
                                    sources=("syscall", "k8s_audit"))


def load(catalog: FieldCatalog, *texts: str, **kw: Any) -> tuple[RulesEngine, Any]:
    engine = RulesEngine(catalog, **kw)
    res = engine.load([RulesContent(f"rules{i}.yaml", t) for i, t in enumerate(texts)])
    return engine, res


@pytest.fixture
def ip():
    return ipaddress.ip_address
