"""The plugin's registrations, through the core's real registry."""

from __future__ import annotations

import pytest
from pyfalco.api import SYSCALL_SOURCE, OpenContext
from pyfalco.errors import PluginError
from pyfalco.plugins import collect, get_plugin_manager
from pyfalco_syscall import plugin
from pyfalco_syscall.events import SyscallEvent, event_id
from pyfalco_syscall.state import default_state


@pytest.fixture(scope="module")
def registry():
    pm, failures = get_plugin_manager(autoload=False, plugins=[plugin])
    return collect(pm, failures)


def test_identity(registry):
    info = registry.plugins["syscall"]
    assert info.id == 0 and info.name == "syscall"


def test_entry_point_is_installed():
    pm, failures = get_plugin_manager(autoload=True)
    assert not [f for f in failures if f.entry_point == "syscall"]
    assert "syscall" in collect(pm, failures).plugins


def test_engine_kinds(registry):
    assert registry.engine_kind("replay").replay is True
    assert registry.engine_kind("ebpf").name == "ebpf"
    assert registry.engine_kind("modern_ebpf").name == "ebpf"
    with pytest.raises(PluginError, match="no kernel module driver"):
        registry.engine_kind("kmod").open(OpenContext(init_config={}))


def test_replay_kind_opens_capture(registry, trace_files):
    inst = registry.engine_kind("replay").open(OpenContext(
        init_config={}, engine_config={"capture_file": str(trace_files["syscall"])}))
    n = 0
    while (batch := inst.next_batch()) is not None:
        n += len(batch)
    assert n == 6 and inst.progress() == 100.0
    assert inst.counters()["enter_events_merged"] > 0


def test_field_table(registry):
    (table,) = [t for t in registry.field_tables if t.plugin == "syscall"]
    names = {f.name for f in table.fields}
    assert table.sources == (SYSCALL_SOURCE,)
    for must in ("proc.name", "proc.aname", "fd.name", "fd.sip", "user.name", "group.name",
                 "evt.arg", "evt.rawres", "thread.cap_effective", "fd.types", "fs.path.name"):
        assert must in names
    # the core's base fields are not redefined here
    assert not names & {"evt.num", "evt.time", "evt.type", "evt.source", "evt.rawtime",
                        "evt.hostname", "evt.is_async"}


def test_parser_feeds_default_state(registry):
    (parser,) = [p for p in registry.parsers if p.plugin == "syscall"]
    st = default_state()
    st.reset()
    e = SyscallEvent(event_id("openat"), ts=1, tid=4242, params={"fd": 3, "dirfd": -100,
                                                                "name": "/etc/hosts"})
    parser.parse(e)
    assert e.thread is st.lookup_thread(4242) and e.thread.fds[3].name == "/etc/hosts"
    st.reset()


def test_upstream_rules_fields_exist(upstream):
    """Every syscall field the upstream rules files use is in the table (container.* and the
    core's base evt.* fields excepted)."""
    import re

    from pyfalco_syscall.fields import FIELDS_BY_NAME

    base = {"evt.num", "evt.type", "evt.hostname", "evt.time", "evt.source"}
    missing = set()
    for f in ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"):
        text = (upstream / "rules" / f).read_text()
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        pat = r"(?<![/\w.])((?:proc|thread|fd|user|group|fs|evt)\.[a-z0-9_.]*[a-z0-9_])"
        for ref in set(re.findall(pat, text)):
            if ref in base or ref in FIELDS_BY_NAME:
                continue
            head = ref
            found = False
            while "." in head:
                head = head.rpartition(".")[0]
                spec = FIELDS_BY_NAME.get(head)
                if spec is not None and spec.arg is not None and spec.arg.key:
                    found = True
                    break
            if not found and ref != "user.log":  # "user.log" is a log file name in a list
                missing.add(ref)
    assert not missing
