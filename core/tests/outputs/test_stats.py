"""End-of-run statistics exactly as Falco prints them."""

from __future__ import annotations

import threading

from pyfalco.outputs import AlertStats
from pyfalco.priority import Priority

from .conftest import make_alert


def test_render_exact_block():
    stats = AlertStats(rule_order=["Rule A", "Rule B", "Rule C"])
    for _ in range(3):
        stats.add(make_alert(rule="Rule B", priority=Priority.INFORMATIONAL))
    stats.add(make_alert(rule="Rule A", priority=Priority.WARNING))
    stats.add(make_alert(rule="Rule A", priority=Priority.WARNING))
    stats.add(make_alert(rule="Unlisted", priority=Priority.EMERGENCY))
    assert stats.render() == (
        "Events detected: 6\n"
        "Rule counts by severity:\n"
        "   EMERGENCY: 1\n"
        "   WARNING: 2\n"
        "   INFO: 3\n"
        "Triggered rules by rule name:\n"
        "   Rule A: 2\n"
        "   Rule B: 3\n"
        "   Unlisted: 1\n"
    )


def test_render_empty():
    assert AlertStats().render() == (
        "Events detected: 0\nRule counts by severity:\nTriggered rules by rule name:\n")


def test_add_is_thread_safe():
    stats = AlertStats()
    alert = make_alert()

    def work():
        for _ in range(5000):
            stats.add(alert)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stats.total == 20000
    [rc] = stats.rule_counts()
    assert rc.count == 20000 and rc.tags == ("container", "shell") and rc.source == "syscall"
