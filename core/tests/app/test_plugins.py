"""Plugin selection and configuration from falco.yaml (falco-core.md §5)."""

from __future__ import annotations

from pyfalco import hookimpl
from pyfalco.api import EngineKindSpec
from pyfalco.plugins import DiscoveryFailure

from .fakes import CounterInstance, CounterPlugin

SCHEMA = {
    "type": "object",
    "properties": {"size": {"type": "integer", "minimum": 1}, "name": {"type": "string"}},
    "additionalProperties": False,
}


def run(app, *args):
    app.file("rules.yaml", "[]\n")
    return app.run("-c", str(app.tmp_path / "falco.yaml"), "-r", str(app.tmp_path / "rules.yaml"),
                   "--dry-run", *args)


def test_no_plugins_key_loads_every_installed_plugin_with_defaults(app):
    app.plugins += [CounterPlugin("pa", "a", 101), CounterPlugin("pb", "b", 102)]
    app.config()
    r = run(app)
    assert r.code == 0, r.err
    assert [p.name for p in r.state.plugins] == ["pa", "pb"]
    assert app.plugins[0].inits == [{}]


def test_load_plugins_selects_and_orders(app):
    app.plugins += [CounterPlugin("pa", "a", 101), CounterPlugin("pb", "b", 102)]
    app.config("""\
        plugins:
          - name: pa
          - name: pb
            library_path: libpb.so
            init_config: '{"x": 1}'
            open_params: count=2
        load_plugins: [pb]
        """)
    r = run(app)
    assert r.code == 0, r.err
    assert [p.name for p in r.state.plugins] == ["pb"]
    assert r.state.loaded_sources == ["syscall", "b"]
    assert app.plugins[1].inits == [{"x": 1}]
    assert "library_path 'libpb.so' is ignored" in r.err


def test_load_plugins_unknown_name(app):
    app.plugins.append(CounterPlugin("pa", "a", 101))
    app.config("plugins: [{name: pa}]\nload_plugins: [pa, nope]\n")
    r = run(app)
    assert r.code == 1
    assert "Runtime error: Cannot load plugin 'nope': plugin config not found for given name. " \
           "Exiting." in r.err


def test_configured_plugin_not_installed_names_the_package(app):
    app.config("plugins: [{name: k8saudit}]\n")
    r = run(app)
    assert r.code == 1
    assert ("cannot load plugin k8saudit: no installed package provides it (install it with: "
            "pip install pyfalco-plugin-k8saudit)") in r.err


def test_discovery_failure_is_reported_with_its_distribution(app):
    app.failures.append(DiscoveryFailure("k8saudit", "pyfalco-plugin-k8saudit",
                                         "ImportError: no module named yaml2"))
    app.config("plugins: [{name: k8saudit}]\n")
    r = run(app)
    assert r.code == 1
    assert ("cannot load plugin k8saudit: package pyfalco-plugin-k8saudit failed to load: "
            "ImportError: no module named yaml2") in r.err


def test_init_config_map_and_string_validated_with_falcos_text(app):
    app.plugins.append(CounterPlugin("pa", "a", 101, schema=SCHEMA))
    app.config("plugins: [{name: pa, init_config: {size: 0}}]\n")
    r = run(app)
    assert r.code == 1
    assert ("Runtime error: error in plugin pa init config: In <root>[size], 0 is less than the "
            "minimum of 1. Exiting.") in r.err
    app.config("plugins: [{name: pa, init_config: '{\"size\": 3, \"name\": \"x\"}'}]\n")
    assert run(app).code == 0
    assert app.plugins[0].inits[-1] == {"size": 3, "name": "x"}
    app.config("plugins: [{name: pa, init_config: '{size: 3'}]\n")
    r = run(app)
    assert "error in plugin pa: init config is not a valid json" in r.err
    # -o values are typed before validation, as Falco's YAML-to-JSON conversion does
    app.config("plugins: [{name: pa}]\n")
    assert run(app, "-o", "plugins[0].init_config.size=7").code == 0
    assert app.plugins[0].inits[-1] == {"size": 7}


def test_init_failure(app):
    p = CounterPlugin("pa", "a", 101)
    app.plugins.append(p)

    def boom(cfg):
        raise ValueError("bad credentials")

    p.inits = type("L", (list,), {"append": staticmethod(boom)})()
    app.config()
    r = run(app)
    assert "Runtime error: could not initialize plugin: bad credentials. Exiting." in r.err


def test_unused_extractor_is_an_error(app):
    from pyfalco.api import FieldSpec, FieldTable, FieldType, PluginInfo

    class Extractor:
        @hookimpl
        def pyfalco_register_plugins(self, register):
            register(PluginInfo(name="ext", version="1.0.0"))

        @hookimpl
        def pyfalco_register_fields(self, register):
            register(FieldTable(plugin="ext", sources=["nowhere"], fields=[
                FieldSpec("ext.x", FieldType.STRING, "x", lambda e: None)]))

    app.plugins.append(Extractor())
    app.config()
    r = run(app)
    assert ("Plugin 'ext' is loaded but unused as not compatible with any known event source"
            in r.err)


class Driver:
    """A plugin providing engine kinds, like the syscall plugin (implicitly loaded)."""

    def __init__(self) -> None:
        self.opened = []

    def open(self, ctx):
        inst = CounterInstance("syscall", 2)
        self.opened.append((inst, ctx))
        return inst

    @hookimpl
    def pyfalco_register_plugins(self, register):
        from pyfalco.api import PluginInfo

        register(PluginInfo(name="syscall", version="0.1.0"))

    @hookimpl
    def pyfalco_register_engine_kinds(self, register):
        register(EngineKindSpec(name="ebpf", plugin="syscall", open=self.open,
                                description="eBPF probe",
                                config_schema={"type": "object", "properties": {
                                    "buf": {"type": "integer"}}}))


def test_engine_kind_plugins_are_loaded_whenever_installed(app):
    drv = Driver()
    app.plugins += [CounterPlugin("pa", "a", 101), drv]
    app.config("plugins: [{name: pa}]\nengine: {kind: ebpf, ebpf: {buf: 3}}\n")
    app.file("rules.yaml", "[]\n")
    r = app.run("-c", str(app.tmp_path / "falco.yaml"), "-r", str(app.tmp_path / "rules.yaml"),
                "--disable-source=a")
    assert r.code == 0, r.err
    assert [p.name for p in r.state.plugins] == ["syscall", "pa"]
    (inst, ctx), = drv.opened
    assert ctx.engine_config == {"buf": 3} and inst.threads == {"MainThread"}
    assert "Opening 'syscall' source with engine kind 'ebpf'" in r.err


def test_engine_config_is_validated_against_the_kind_schema(app):
    app.plugins.append(Driver())
    app.config("engine: {kind: ebpf, ebpf: {buf: many}}\n")
    r = run(app)
    assert r.code == 1
    assert "engine.ebpf.buf: 'many' is not of type 'integer'" in r.err
    assert "falco.yaml:" in r.err


def test_unknown_engine_kinds(app):
    app.config("engine: {kind: ebpf}\n")
    r = run(app)
    f = app.tmp_path / "falco.yaml"
    assert r.code == 1
    assert r.err.endswith(
        f"Error: Error reading config file ({f}): engine.kind 'ebpf' is not a valid kind. It is "
        "provided by the pyfalco-plugin-syscall package: pip install pyfalco-plugin-syscall\n")
    app.config("engine: {kind: gvisor}\n")
    assert "pip install pyfalco-plugin-gvisor" in run(app).err
    app.config("engine: {kind: warp}\n")
    assert run(app).err.endswith(
        f"Error: Error reading config file ({f}): engine.kind 'warp' is not a valid kind. "
        "Available kinds: nodriver\n")


def test_nodriver_syscall_served_by_a_system_event_plugin(app):
    sysplug = CounterPlugin("sysgen", "syscall", 0, count=2, fields=False)
    app.plugins.append(sysplug)
    app.config()
    app.file("rules.yaml", "[]\n")
    r = app.run("-c", str(app.tmp_path / "falco.yaml"), "-r", str(app.tmp_path / "rules.yaml"))
    assert r.code == 0, r.err
    assert r.state.loaded_sources == ["syscall"]
    assert "Opening 'syscall' source with plugin 'sysgen'" in r.err
    assert r.state.source_stats["syscall"].events == 2


def test_syscall_rules_skipped_without_a_syscall_field_provider(app):
    app.plugins.append(CounterPlugin("pa", "a", 101))
    app.config()
    r = run(app)
    assert r.state.loaded_sources == ["syscall", "a"]
    assert r.state.engine_sources == ["a"]


def test_sources_can_raise_internal_alerts(app):
    from pyfalco.priority import Priority

    from .fakes import OutputsManager

    p = CounterPlugin("pa", "a", 101, count=1)
    orig = p.open

    def open_and_alert(ctx):
        ctx.internal_alert("Falco internal: syscall event drop. 3 system calls dropped in last "
                           "second.", Priority.DEBUG, {"n_drops": "3"},
                           "Falco internal: syscall event drop")
        return orig(ctx)

    p.open = open_and_alert
    app.plugins.append(p)
    app.config()
    app.file("rules.yaml", "[]\n")
    r = app.run("-c", str(app.tmp_path / "falco.yaml"), "-r", str(app.tmp_path / "rules.yaml"),
                "--enable-source=a")
    assert r.code == 0, r.err
    (msg, prio, rule), = OutputsManager.instances[-1].internal
    assert rule == "Falco internal: syscall event drop" and prio is Priority.DEBUG
