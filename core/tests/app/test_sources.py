"""Loaded/enabled sources, --enable-source/--disable-source, threads (falco-core.md §2)."""

from __future__ import annotations

import pytest

from .fakes import CounterPlugin

RULES = """\
- rule: tick
  desc: every a event
  condition: always
  output: a event %a.n
  priority: WARNING
  source: a
- rule: b tick
  desc: every b event
  condition: b.n=2
  output: b event %b.n
  priority: ERROR
  source: b
"""


@pytest.fixture
def two(app):
    app.plugins += [CounterPlugin("pa", "a", 101, count=3), CounterPlugin("pb", "b", 102, count=4)]
    app.config()
    app.file("rules.yaml", RULES)
    return app


def test_loaded_sources_are_syscall_then_plugins_in_load_order(two):
    r = two.run("-c", str(two.tmp_path / "falco.yaml"), "-r", str(two.tmp_path / "rules.yaml"),
                "--dry-run")
    assert r.code == 0, r.err
    assert r.state.loaded_sources == ["syscall", "a", "b"]
    assert r.state.enabled_sources == ["syscall", "a", "b"]
    assert "Loaded event sources: syscall, a, b" in r.err
    assert "Enabled event source 'syscall' will be opened with no driver, no event will be " \
           "produced" in r.err


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--enable-source=a", "--disable-source=b"],
         "You can not mix --enable-source and --disable-source"),
        (["--enable-source=nope"], "Attempted enabling an unknown event source: nope"),
        (["--disable-source=nope"], "Attempted disabling an unknown event source: nope"),
        (["--disable-source=syscall", "--disable-source=a", "--disable-source=b"],
         "Must enable at least one event source"),
    ],
)
def test_source_selection_errors(two, args, error):
    r = two.run("-c", str(two.tmp_path / "falco.yaml"), "-r", str(two.tmp_path / "rules.yaml"),
                *args)
    assert r.code == 1
    assert r.err.endswith(f"Error: {error}\n")


def test_enable_and_disable_sets(two):
    base = ("-c", str(two.tmp_path / "falco.yaml"), "-r", str(two.tmp_path / "rules.yaml"),
            "--dry-run")
    assert two.run(*base, "--enable-source=b", "--enable-source=a",
                   "--enable-source=b").state.enabled_sources == ["a", "b"]
    assert two.run(*base, "--disable-source=syscall", "--disable-source=syscall"
                   ).state.enabled_sources == ["a", "b"]


def test_each_source_runs_in_its_own_thread_and_ends_at_eof(two):
    r = two.run("-c", str(two.tmp_path / "falco.yaml"), "-r", str(two.tmp_path / "rules.yaml"),
                "--disable-source=syscall")
    assert r.code == 0, r.err
    pa, pb = two.plugins
    (ia,), (ib,) = pa.opened, pb.opened
    assert ia.threads == {"source-a"} and ib.threads == {"source-b"}
    assert ia.closed and ib.closed
    alerts = r.state.outputs if r.state.outputs else None
    from .fakes import OutputsManager

    (om,) = OutputsManager.instances[-1:]
    got = sorted((a.rule, a.output, a.source) for a in om.alerts)
    assert got == [("b tick", "b event 2", "b"), ("tick", "a event 1", "a"),
                   ("tick", "a event 2", "a"), ("tick", "a event 3", "a")]
    assert r.state.source_stats["a"].events == 3 and r.state.source_stats["b"].events == 4
    assert r.state.source_stats["a"].counters() == {"drops": 1}
    assert om.closed and r.out == "Events detected: 4\n"
    assert alerts is None  # cleaned up at teardown


def test_single_source_runs_on_the_main_thread(two):
    r = two.run("-c", str(two.tmp_path / "falco.yaml"), "-r", str(two.tmp_path / "rules.yaml"),
                "--enable-source=a")
    assert r.code == 0, r.err
    (ia,) = two.plugins[0].opened
    assert ia.threads == {"MainThread"}
    assert two.plugins[1].opened == []


def test_a_failing_source_stops_all_and_exits_1(app):
    import threading

    never = threading.Event()
    slow = CounterPlugin("slow", "s", 103, count=10**9)
    slow.open = lambda ctx, _o=slow.open: _set_wait(_o(ctx), never)
    app.plugins += [CounterPlugin("bad", "a", 101, count=5, fail_at=2), slow]
    app.config()
    app.file("rules.yaml", "[]\n")
    r = app.run("-c", str(app.tmp_path / "falco.yaml"), "-r", str(app.tmp_path / "rules.yaml"))
    assert r.code == 1
    assert r.err.endswith("Error: a broke at event 2\n")
    assert "An error occurred in an event source, forcing termination..." in r.err
    assert slow.opened[0].closed


def _set_wait(inst, event):
    inst.wait = event
    return inst


def test_several_producers_first_wins_with_warning(app):
    first = CounterPlugin("k8saudit", "k8s_audit", 1, count=2)
    second = CounterPlugin("k8saudit-eks", "k8s_audit", 9, count=2, fields=False)
    app.plugins += [first, second]
    app.config("""\
        plugins:
          - name: k8saudit-eks
          - name: k8saudit
        """)
    app.file("rules.yaml", "[]\n")
    r = app.run("-c", str(app.tmp_path / "falco.yaml"), "-r", str(app.tmp_path / "rules.yaml"),
                "--disable-source=syscall")
    assert r.code == 0, r.err
    assert ("Enabled event source 'k8s_audit' can be opened with multiple loaded plugins, will "
            "use only 'k8saudit-eks'") in r.err
    assert len(second.opened) == 1 and first.opened == []


def test_duration_stops_a_source_in_event_time(app):
    p = CounterPlugin("pa", "a", 101, count=10**6)
    app.plugins.append(p)
    app.config()
    app.file("rules.yaml", "[]\n")
    orig = p.open

    def open_with_time(ctx):
        inst = orig(ctx)
        nb = inst.next_batch

        def stamped():
            batch = nb()
            for e in batch or ():
                e.ts = inst.n * 500_000_000  # two events per second of event time
            return batch

        inst.next_batch = stamped
        return inst

    p.open = open_with_time
    r = app.run("-c", str(app.tmp_path / "falco.yaml"), "-r", str(app.tmp_path / "rules.yaml"),
                "--enable-source=a", "-M", "3")
    assert r.code == 0, r.err
    assert r.state.source_stats["a"].events == 7  # ts 0.5 s .. 3.5 s


def test_gc_young_generation_threshold_raised_for_events():
    import gc

    from pyfalco.app.actions import GC_GEN0_THRESHOLD, tune_gc_for_events

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        tune_gc_for_events()
        assert gc.get_threshold() == (GC_GEN0_THRESHOLD, 10, 10)
        gc.set_threshold(GC_GEN0_THRESHOLD * 2, 10, 10)  # a user's own larger value is kept
        tune_gc_for_events()
        assert gc.get_threshold()[0] == GC_GEN0_THRESHOLD * 2
    finally:
        gc.set_threshold(*before)
