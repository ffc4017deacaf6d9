"""The plugin contract enforced at registration."""

from __future__ import annotations

import pytest
from pyfalco import hookimpl
from pyfalco.api import Event, FieldArg, FieldSpec, FieldTable, FieldType, PluginInfo, SourceSpec
from pyfalco.errors import PluginError
from pyfalco.plugins import api_version_error, collect, get_plugin_manager


class Dummy:
    def __init__(self, name="dummy", id=3, source="dummy", fields=None, schema=None):
        self.info = PluginInfo(name=name, version="1.0.0", id=id, init_schema=schema)
        self.source = source
        self.fields = fields if fields is not None else [
            FieldSpec("dummy.value", FieldType.UINT64, "the value", lambda e: e.json()["v"]),
        ]

    @hookimpl
    def pyfalco_register_plugins(self, register):
        register(self.info)

    @hookimpl
    def pyfalco_register_sources(self, register):
        register(SourceSpec(plugin=self.info.name, event_source=self.source, open=lambda ctx: None))

    @hookimpl
    def pyfalco_register_fields(self, register):
        register(FieldTable(plugin=self.info.name, fields=self.fields))


def registry(*plugins):
    pm, failures = get_plugin_manager(autoload=False, plugins=plugins)
    return collect(pm, failures)


def test_collects_plain_objects():
    reg = registry(Dummy())
    assert list(reg.plugins) == ["dummy"]
    assert reg.sources[0].event_source == "dummy"
    (table,) = reg.field_tables
    assert table.fields[0].binder()(Event(b'{"v": 7}')) == 7


def test_duplicate_name_and_id_use_falcos_words():
    with pytest.raises(PluginError, match="found another plugin with name dummy. Aborting."):
        registry(Dummy(), Dummy())
    with pytest.raises(PluginError, match="found another plugin with ID 3. Aborting."):
        registry(Dummy(), Dummy(name="other"))


def test_reserved_source_is_refused():
    with pytest.raises(PluginError, match="reserved event source 'syscall'"):
        registry(Dummy(source="syscall"))


def test_empty_field_table_is_refused():
    with pytest.raises(PluginError, match="must export at least one field"):
        registry(Dummy(fields=[]))


def test_required_arg_needs_index_or_key():
    bad = FieldSpec("d.x", FieldType.STRING, "x", lambda e, a: a, arg=FieldArg(required=True))
    with pytest.raises(PluginError, match="none of isKey nor isIndex"):
        registry(Dummy(fields=[bad]))


def test_bad_init_schema_is_refused():
    with pytest.raises(PluginError, match="invalid init_config schema"):
        registry(Dummy(schema={"type": "no-such-type"}))


@pytest.mark.parametrize(
    "required, expected",
    [
        ("1.0.0", None),
        ("2.0.0", "major versions disagree"),
        ("1.1.0", "framework's minor is less than the requested one"),
        ("1.0.1", "framework's patch is less than the requested one"),
        ("x", "invalid required API version: 'x'"),
    ],
)
def test_api_version_check(required, expected):
    err = api_version_error(required, "1.0.0")
    assert (err is None) if expected is None else (expected in err)


def test_priority_spellings():
    from pyfalco.priority import Priority

    assert Priority.parse("info") is Priority.INFORMATIONAL
    assert Priority.parse("wArNiNg").title == "Warning"
    assert Priority.INFORMATIONAL.stats_name == "INFO"
    assert Priority.EMERGENCY < Priority.DEBUG
    with pytest.raises(ValueError):
        Priority.parse("loud")
