"""pyfalco run as Falco is run (``pyfalco -c falco.yaml -r rules.yaml``) on the eBPF engine with
the project's default syscall rules: real actions on this host fire each expected rule once, with
the right proc.name, fd.name and user.name in the JSON alert."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.root, pytest.mark.kernel, pytest.mark.slow]

PYFALCO = str(Path(sys.executable).parent / "pyfalco")
RULES = (Path(__file__).resolve().parents[2] / "src" / "pyfalco_syscall" / "rules"
         / "pyfalco_syscall_rules.yaml")


def test_pyfalco_ebpf_default_rules(tmp_path):
    work = tmp_path / f"pyfalco-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    config = tmp_path / "falco.yaml"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config.write_text(
        "engine:\n  kind: modern_ebpf\n  modern_ebpf:\n    buf_size_preset: 4\n"
        "json_output: true\nstdout_output:\n  enabled: true\nsyslog_output:\n  enabled: false\n"
        f"webserver:\n  enabled: true\n  listen_address: 127.0.0.1\n  listen_port: {port}\n"
        "  prometheus_metrics_enabled: true\n"
        "metrics:\n  enabled: true\n  interval: 1s\n  output_rule: false\n"
        "log_syslog: false\nlog_stderr: true\nlog_level: info\n"
        # the pids identify this test's processes on a host where other runs do the same
        "append_output:\n  - extra_fields:\n      - proc.pid\n      - proc.ppid\n"
        "rules_files: []\nrule_matching: all\n"
        "plugins:\n  - name: syscall\nload_plugins: [syscall]\n"
    )
    out = open(tmp_path / "falco.out", "w+")
    err = open(tmp_path / "falco.err", "w+")
    proc = subprocess.Popen([PYFALCO, "-c", str(config), "-r", str(RULES)], stdout=out,
                            stderr=err, stdin=subprocess.DEVNULL)
    etc_file, bin_file = Path(f"/etc/{work.name}"), Path(f"/usr/local/bin/{work.name}")

    def read_alerts() -> list[dict]:
        return [json.loads(line) for line in Path(out.name).read_text().splitlines()
                if line.startswith("{") and line.endswith("}")]

    def wait_for(what: str, pred, timeout: float = 180.0) -> None:
        """Poll pyfalco's output until ``pred(alert)`` holds for one alert. The deadline only
        bounds a failure: a loaded machine delivers late, the test waits on the alert."""
        end = time.monotonic() + timeout
        while not any(pred(a) for a in read_alerts()):
            assert proc.poll() is None, Path(err.name).read_text()
            assert time.monotonic() < end, (what, Path(err.name).read_text())
            time.sleep(0.1)

    def sentinel(what: str) -> None:
        """Read /etc/shadow from a fresh process and wait for its alert: events are delivered in
        order, so once it is out everything done before it is out too."""
        p = subprocess.Popen(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL)
        assert p.wait() == 0
        wait_for(what, lambda a: a["rule"] == "Read sensitive file untrusted"
                 and a["output_fields"].get("proc.pid") == p.pid)

    try:
        end = time.monotonic() + 120
        while "eBPF probe attached" not in Path(err.name).read_text():
            assert proc.poll() is None and time.monotonic() < end, Path(err.name).read_text()
            time.sleep(0.1)
        sentinel("the capture is live")
        pids: set[int] = set()
        (work / "suid").write_text("x")
        with open(work / ".bash_history", "x") as hist:  # O_EXCL, not O_TRUNC: no alert
            hist.write("ls\n")
        for argv in (["cat", "/etc/shadow"], ["touch", str(etc_file)], ["touch", str(bin_file)],
                     ["chmod", "u+s", str(work / "suid")], ["rm", str(work / ".bash_history")],
                     ["perl", "-e", 'system("/bin/sh", "-c", "exit 0")']):
            p = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
            pids.add(p.pid)
            assert p.wait() == 0
        # the connecting process lives until its alert is out (the local side of the
        # connection is read from its socket), however late the consumer runs
        p = subprocess.Popen(
            [sys.executable, "-c",
             "import socket, sys\ns = socket.socket(); s.setblocking(False)\n"
             "try:\n    s.connect(('198.51.100.7', 80))\n"
             "except BlockingIOError:\n    pass\nsys.stdin.read()\n"],
            stdout=subprocess.DEVNULL, stdin=subprocess.PIPE)
        pids.add(p.pid)
        try:
            wait_for("the outbound connection alert",
                     lambda a: a["rule"] == "Unexpected outbound connection destination"
                     and a["output_fields"].get("proc.pid") == p.pid)
        finally:
            p.stdin.close()
            assert p.wait() == 0
        sentinel("the alerts of the actions")  # any second alert of ours is out by now
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as resp:
            metrics = resp.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        for path in (etc_file, bin_file):
            path.unlink(missing_ok=True)
    stderr = Path(err.name).read_text()
    assert rc == 0, stderr
    alerts = read_alerts()

    def ours(rule, key, pred):
        return [a for a in alerts if a["rule"] == rule
                and pred(a["output_fields"].get(key) or "")
                and (a["output_fields"].get("proc.pid") in pids
                     or a["output_fields"].get("proc.ppid") in pids)]

    def one(rule, key, pred):
        got = ours(rule, key, pred)
        assert len(got) == 1, (rule, [a["output"] for a in got])
        f = got[0]["output_fields"]
        assert f["user.name"] == "root"
        return f

    f = one("Read sensitive file untrusted", "proc.name", lambda v: v == "cat")
    assert f["fd.name"] == "/etc/shadow"
    f = one("Write below etc", "fd.name", lambda v: v == str(etc_file))
    assert f["proc.name"] == "touch"
    f = one("Write below binary dir", "fd.name", lambda v: v == str(bin_file))
    assert f["proc.name"] == "touch"
    f = one("Set Setuid or Setgid bit", "evt.arg.filename", lambda v: work.name in v)
    assert f["proc.name"] == "chmod"
    f = one("Delete or rename shell history", "evt.arg.name", lambda v: work.name in v)
    assert f["proc.name"] == "rm"
    f = one("Run shell untrusted", "proc.pname", lambda v: v == "perl")
    assert f["proc.name"] == "sh"
    f = one("Unexpected outbound connection destination", "fd.name",
            lambda v: v.endswith("->198.51.100.7:80"))
    assert f["proc.name"].startswith("python") and not f["fd.name"].startswith("0.0.0.0:")
    assert "Opening 'syscall' source with modern BPF probe." in stderr
    # the kernel's counters, per CPU too, reach Prometheus as scap counters of the source
    for name in ("n_evts", "n_drops", "n_drops_buffer_open_exit", "n_drops_buffer_cpu0"):
        assert f'falcosecurity_scap_{name}_total{{evt_source="syscall"}}' in metrics, metrics
