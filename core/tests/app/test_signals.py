"""SIGINT/SIGTERM, SIGUSR1, SIGHUP and watch_config_files (falco-core.md §2.6)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from .fakes import CounterPlugin, OutputsManager


class Idle(CounterPlugin):
    """A source that never produces and never ends (returns empty batches)."""

    def open(self, ctx):
        inst = super().open(ctx)
        inst.wait = threading.Event()
        return inst


def later(delay, fn):
    t = threading.Timer(delay, fn)
    t.daemon = True
    t.start()
    return t


def wait_for(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def idle(app):
    app.plugins.append(Idle("pa", "a", 101))
    app.config("watch_config_files: false\n")
    app.file("rules.yaml", "[]\n")
    return app


def cli(app, *args):
    return app.run("-c", str(app.tmp_path / "falco.yaml"), "-r", str(app.tmp_path / "rules.yaml"),
                   "--enable-source=a", *args)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_terminate_signals_stop_cleanly(idle, sig):
    later(0.3, lambda: os.kill(os.getpid(), signal.SIGUSR1))
    later(0.6, lambda: os.kill(os.getpid(), sig))
    r = cli(idle)
    assert r.code == 0, r.err
    name = "SIGINT" if sig == signal.SIGINT else "SIGTERM"
    assert f"{name} received, exiting..." in r.err
    assert "SIGUSR1 received, reopening outputs..." in r.err
    om = OutputsManager.instances[-1]
    assert om.reopened == 1 and om.closed
    assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL


def test_sighup_restarts_after_a_dry_run_check(idle):
    sent = []

    def hup_then_int():
        os.kill(os.getpid(), signal.SIGHUP)
        sent.append(1)
        # the second life cycle: stop it once it runs
        if wait_for(lambda: len(idle.states) >= 2 and idle.states[-1].instances):
            os.kill(os.getpid(), signal.SIGINT)

    later(0.3, hup_then_int)
    r = cli(idle)
    assert r.code == 0, r.err
    assert "SIGHUP received, restarting..." in r.err
    assert len(idle.states) == 2
    assert len(idle.plugins[0].inits) == 2  # re-initialised by the restart, not by the check


def _write_in_place(path):
    path.write_text("[]\n# changed\n")


def _replace_by_rename(path):
    """As editors and ``sed -i`` save: a new file renamed over the old one (a new inode)."""
    new = path.with_name(path.name + ".tmp")
    new.write_text("[]\n# saved by an editor\n")
    os.replace(new, path)


@pytest.mark.parametrize("change", [_write_in_place, _replace_by_rename],
                         ids=["in place", "by rename"])
def test_changed_rules_file_restarts(idle, change):
    idle.config("watch_config_files: true\n")

    def change_then_int():
        time.sleep(0.3)
        change(idle.tmp_path / "rules.yaml")
        if wait_for(lambda: len(idle.states) >= 2 and idle.states[-1].instances):
            os.kill(os.getpid(), signal.SIGINT)

    later(0.1, change_then_int)
    r = cli(idle)
    assert r.code == 0, r.err
    assert "SIGHUP received, restarting..." in r.err and len(idle.states) == 2


def test_failed_restart_check_emits_internal_alert_and_keeps_running(idle):
    idle.config("watch_config_files: true\n")

    def break_config_then_int():
        time.sleep(0.3)
        cfg = idle.tmp_path / "falco.yaml"
        cfg.write_text(cfg.read_text() + "priority: loud\n")
        om = lambda: OutputsManager.instances[0]  # noqa: E731
        if wait_for(lambda: om().internal):
            os.kill(os.getpid(), signal.SIGINT)

    later(0.1, break_config_then_int)
    r = cli(idle)
    assert r.code == 0, r.err
    (msg, prio, rule), = OutputsManager.instances[0].internal
    assert msg.startswith("Falco internal: hot restart failure: Unknown priority \"loud\"")
    assert prio.name == "CRITICAL" and rule == "Falco internal: hot restart failure"
    assert len(idle.states) == 1


def test_new_file_in_a_watched_rules_directory_restarts(idle):
    d = idle.tmp_path / "rules.d"
    d.mkdir()
    idle.config("watch_config_files: true\n")

    def add_then_int():
        time.sleep(0.3)
        (d / "new.yaml").write_text("[]\n")
        if wait_for(lambda: len(idle.states) >= 2 and idle.states[-1].instances):
            os.kill(os.getpid(), signal.SIGINT)

    later(0.1, add_then_int)
    r = idle.run("-c", str(idle.tmp_path / "falco.yaml"), "-r", str(idle.tmp_path / "rules.yaml"),
                 "-r", str(d), "--enable-source=a")
    assert r.code == 0, r.err
    assert len(idle.states) == 2
    assert idle.states[-1].rules_files[-1] == d / "new.yaml"


def test_files_written_beside_a_rules_file_do_not_restart(idle):
    """Only the rules files themselves and configured rules directories are watched, as in
    Falco: an output file or a tailed log in the same directory once restarted the app on
    every write."""
    idle.config("watch_config_files: true\n")
    busy = idle.tmp_path / "events.txt"

    def write_then_int():
        for i in range(10):
            with open(busy, "a") as f:
                f.write(f"line {i}\n")
            time.sleep(0.1)
        time.sleep(0.5)  # more than the watcher's poll and debounce
        os.kill(os.getpid(), signal.SIGINT)

    later(0.2, write_then_int)
    r = cli(idle)
    assert r.code == 0, r.err
    assert "restarting" not in r.err and len(idle.states) == 1
