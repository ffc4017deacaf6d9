"""``pyfalco`` end to end, run as Falco is run (``pyfalco -c falco.yaml -r rules.yaml -o ...``),
with the real rules engine, outputs and plugins: the third-party tinysrc plugin of
tests/fixtures next to k8saudit, source selection, threads, EOF, failures and signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from pyfalco.testing import free_port

# tinysrc is installed for these tests only, like a user's plugin (root conftest.py)
pytestmark = pytest.mark.usefixtures("third_party_plugins")

PYFALCO = str(Path(sys.executable).with_name("pyfalco"))

AUDIT_EVENTS = [
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request", "auditID": f"a{i}",
     "stage": "ResponseComplete", "verb": verb, "requestURI": "/api/v1/namespaces/default/pods",
     "user": {"username": user, "groups": ["system:authenticated"]},
     "sourceIPs": ["10.0.0.1"],
     "objectRef": {"resource": "pods", "namespace": "default", "name": "p1", "apiVersion": "v1"},
     "responseStatus": {"code": 200},
     "requestReceivedTimestamp": f"2024-01-01T00:00:0{i}.000000Z",
     "stageTimestamp": f"2024-01-01T00:00:0{i}.100000Z"}
    for i, (verb, user) in enumerate([("create", "alice"), ("delete", "bob")])
]

RULES = """\
- required_plugin_versions:
    - name: tinysrc
      version: 1.0.0
- rule: Tiny even
  desc: even tiny events
  condition: tiny.n in (2, 4)
  output: even tick %tiny.n msg=%tiny.msg prefix=%tiny.prefix
  priority: WARNING
  source: tiny
  tags: [test]
- rule: Pod deleted
  desc: a pod was deleted
  condition: ka.verb=delete and ka.target.resource=pods
  output: pod %ka.target.name deleted by %ka.user.name
  priority: NOTICE
  source: k8s_audit
  tags: [k8s]
"""


class Env:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.audit = tmp_path / "audit.json"
        self.audit.write_text("".join(json.dumps(e) + "\n" for e in AUDIT_EVENTS))
        self.rules = tmp_path / "rules.yaml"
        self.rules.write_text(RULES)

    def config(self, plugins: str, extra: str = "") -> Path:
        path = self.tmp / "falco.yaml"
        path.write_text(
            "stdout_output: {enabled: true}\nlog_stderr: true\nlog_syslog: false\n"
            "webserver: {enabled: false}\nwatch_config_files: false\n"
            + textwrap.dedent(plugins) + textwrap.dedent(extra)
        )
        return path

    def both(self, tiny: str = "count=5,every_ms=20", k8s: str | None = None) -> Path:
        return self.config(f"""\
            plugins:
              - name: tinysrc
                init_config: {{prefix: hello}}
                open_params: "{tiny}"
              - name: k8saudit
                open_params: "{k8s or self.audit}"
            """)

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([PYFALCO, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def env(tmp_path) -> Env:
    return Env(tmp_path)


def test_third_party_source_runs_in_its_thread_next_to_k8saudit_and_rules_fire(env):
    cfg = env.both()
    r = env.run("-c", str(cfg), "-r", str(env.rules), "--disable-source=syscall",
                "-o", "json_output=true")
    assert r.returncode == 0, r.stderr
    alerts = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    by_rule: dict[str, list] = {}
    for a in alerts:
        by_rule.setdefault(a["rule"], []).append(a)
    assert [a["output_fields"]["tiny.n"] for a in by_rule["Tiny even"]] == [2, 4]
    tiny = by_rule["Tiny even"][0]
    assert tiny["source"] == "tiny" and tiny["tags"] == ["test"]
    assert tiny["output"].endswith("Warning even tick 2 msg=tick 2 prefix=hello")
    (pod,) = by_rule["Pod deleted"]
    assert pod["output"] == "00:00:01.100000000: Notice pod p1 deleted by bob" or \
        pod["output"].endswith("Notice pod p1 deleted by bob")
    assert pod["time"] == "2024-01-01T00:00:01.100000000Z"
    assert r.stdout.endswith(
        "Events detected: 3\nRule counts by severity:\n   WARNING: 2\n   NOTICE: 1\n"
        "Triggered rules by rule name:\n   Tiny even: 2\n   Pod deleted: 1\n"
    )
    assert "Loaded event sources: syscall, tiny, k8s_audit" in r.stderr
    assert "Enabled event sources: tiny, k8s_audit" in r.stderr


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--enable-source=tiny", "--disable-source=k8s_audit"],
         "You can not mix --enable-source and --disable-source"),
        (["--enable-source=aws_cloudtrail"],
         "Attempted enabling an unknown event source: aws_cloudtrail"),
        (["--disable-source=aws_cloudtrail"],
         "Attempted disabling an unknown event source: aws_cloudtrail"),
        (["--disable-source=syscall", "--disable-source=tiny", "--disable-source=k8s_audit"],
         "Must enable at least one event source"),
    ],
)
def test_source_selection_errors(env, args, error):
    r = env.run("-c", str(env.both()), "-r", str(env.rules), *args)
    assert r.returncode == 1
    assert r.stderr.endswith(f"Error: {error}\n")


def test_a_failing_source_stops_the_others_with_its_error(env):
    port = free_port()
    cfg = env.both(tiny="count=100,every_ms=50,fail_at=3", k8s=f"http://127.0.0.1:{port}/audit")
    r = env.run("-c", str(cfg), "-r", str(env.rules), "--disable-source=syscall")
    assert r.returncode == 1
    assert r.stderr.endswith("Error: tinysrc: failure requested at event 3\n")
    assert "An error occurred in an event source, forcing termination..." in r.stderr
    assert "Events detected: 1" in r.stdout  # the alert of event 2 was flushed


@pytest.mark.slow
def test_eof_of_one_source_keeps_the_others_and_sigint_stops_cleanly(env):
    port = free_port()
    cfg = env.both(tiny="count=2", k8s=f"http://127.0.0.1:{port}/audit")
    proc = subprocess.Popen([PYFALCO, "-c", str(cfg), "-r", str(env.rules),
                             "--disable-source=syscall"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        body = json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
                           "items": AUDIT_EVENTS}).encode()
        deadline = time.monotonic() + 30
        while True:  # the webhook starts after tinysrc has already ended (EOF after 2 events)
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/audit", data=body,
                                             headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=5) as resp:
                    assert resp.status == 200
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "SIGINT received, exiting..." in err
    assert "Notice pod p1 deleted by bob" in out
    assert "Warning even tick 2 msg=tick 2 prefix=hello" in out
    assert out.endswith("Triggered rules by rule name:\n   Tiny even: 1\n   Pod deleted: 1\n")


def test_required_plugin_versions_unsatisfied(env):
    cfg = env.config("plugins: [{name: k8saudit, open_params: /dev/null}]\n")
    r = env.run("-c", str(cfg), "-r", str(env.rules), "--dry-run")
    assert r.returncode == 1
    assert "Plugin requirement not satisfied, must load one of: tinysrc (>= 1.0.0)" in r.stderr


def test_validate_and_list(env):
    cfg = env.both()
    r = env.run("-c", str(cfg), "-V", str(env.rules))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{env.rules}: Ok")
    r = env.run("-c", str(cfg), "--list=tiny", "-N")
    assert r.returncode == 0 and {"tiny.n", "tiny.msg", "evt.num"} <= set(r.stdout.split())
    assert "ka.verb" not in r.stdout
    r = env.run("-c", str(cfg), "-r", str(env.rules), "-L")
    assert r.returncode == 0 and "Pod deleted" in r.stdout and "Tiny even" in r.stdout


def test_rules_files_load_one_by_one_and_the_first_failure_is_the_error(env):
    """As Falco's load_rules_files: each file is logged with its schema validation and loaded;
    a file's warnings are logged as its own result; the first file that fails is the error, on
    its own, and the files after it are not loaded."""
    d = env.tmp
    warn = d / "a_warn.yaml"
    warn.write_text("- list: unused\n  items: [x]\n- macro: m\n  condition: ka.verb=get\n"
                    "- rule: uses m\n  desc: d\n  condition: m\n  output: o\n"
                    "  priority: INFO\n  source: k8s_audit\n")
    bad = d / "b_bad.yaml"
    bad.write_text("- rule: broken\n  desc: d\n  condition: ka.verb = create and\n"
                   "  output: o\n  priority: INFO\n  source: k8s_audit\n")
    never = d / "c_never.yaml"
    never.write_text("[]\n")
    cfg = env.config(f"plugins:\n  - name: k8saudit\n    open_params: '{env.audit}'\n")
    r = env.run("-c", str(cfg), "-r", str(warn), "-r", str(bad), "-r", str(never),
                "--disable-source=syscall", "--dry-run")
    assert r.returncode == 1
    assert f"   {warn} | schema validation: ok" in r.stderr
    assert f"   {bad} | schema validation: ok" in r.stderr and str(never) not in r.stderr
    assert f"{warn}: Ok, with warnings\n1 Warnings:" in r.stderr
    assert "LOAD_UNUSED_LIST" in r.stderr
    error = r.stderr[r.stderr.index("Error: "):]
    assert error.startswith(f"Error: {bad}: Invalid\n1 Errors:\n")
    assert str(warn) not in error and "LOAD_ERR_COMPILE_CONDITION" in error


def test_config_errors(env):
    cfg = env.both()
    r = env.run("-c", str(cfg), "-r", str(env.rules), "-o", "engine.kind=warp")
    assert r.returncode == 1
    assert (f"Error: Error reading config file ({cfg}): engine.kind 'warp' is not a valid "
            "kind. Available kinds: ") in r.stderr
    r = env.run("-c", str(cfg), "-r", str(env.rules), "-o", "priority=loud")
    assert r.stderr.endswith(
        'Error: Unknown priority "loud"--must be one of emergency, alert, critical, error, '
        "warning, notice, informational, debug\n")
    r = env.run("-c", str(cfg), "-r", str(env.rules), "-o", "plugins[0].init_config.max_count=0")
    assert r.returncode == 1
    assert ("Runtime error: error in plugin tinysrc init config: In <root>[max_count], 0 is less "
            "than the minimum of 1. Exiting.") in r.stderr


def test_k8s_audit_only_deployment(env):
    """Falco's default rules of both kinds, syscall disabled: syscall rules never break a
    deployment that has no syscall field provider (they are skipped or compiled, never fatal)."""
    syscall_rules = env.tmp / "syscall_rules.yaml"
    syscall_rules.write_text(textwrap.dedent("""\
        - rule: Shell spawned
          desc: a shell
          condition: evt.type = execve and proc.name = bash
          output: shell %proc.name
          priority: WARNING
        """))
    cfg = env.config("plugins: [{name: k8saudit, open_params: " + str(env.audit) + "}]\n")
    r = env.run("-c", str(cfg), "-r", str(syscall_rules), "-r", str(env.rules.with_name("k.yaml")),
                "--disable-source=syscall", "-o", "json_output=true")
    # k.yaml does not exist: only existing files are loaded, as in Falco
    assert r.returncode == 0, r.stderr
    assert "Enabled event sources: k8s_audit" in r.stderr


def test_rule_schema_validates_upstream_rules_files(upstream):
    import jsonschema
    import yaml

    r = subprocess.run([PYFALCO, "--rule-schema"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    schema = json.loads(r.stdout)
    files = sorted((upstream / "rules").glob("*.yaml"))
    assert files
    for f in files:
        jsonschema.validate(yaml.safe_load(f.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{"rule": "x", "priority": "LOUD"}], schema)


def test_gvisor_generate_config(tmp_path):
    r = subprocess.run([PYFALCO, "--gvisor-generate-config=/tmp/pyfalco-test.sock"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    session = json.loads(r.stdout)
    assert "/tmp/pyfalco-test.sock" in json.dumps(session)


def test_replay_runs_every_source_from_the_capture(tmp_path, upstream):
    cfg = tmp_path / "falco.yaml"
    cfg.write_text("stdout_output: {enabled: true}\nlog_stderr: true\nlog_syslog: false\n"
                   "plugins: [{name: container}]\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text(textwrap.dedent("""\
        - rule: Any open
          desc: any open by cat
          condition: evt.type in (open, openat) and proc.name = cat
          output: open %fd.name
          priority: INFO
        """))
    capture = upstream / "falco-tests" / "trace_files" / "cat_write.scap"
    r = subprocess.run([PYFALCO, "-c", str(cfg), "-r", str(rules), "-o", "engine.kind=replay",
                        "-o", f"engine.replay.capture_file={capture}",
                        "--enable-source=ignored-in-replay"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Opening 'syscall' source with engine kind 'replay'" in r.stderr
    assert "Informational open /etc/ld.so.cache\n" in r.stdout
    assert r.stdout.endswith("Triggered rules by rule name:\n   Any open: 4\n")


# -- -i and --list-events: the syscall plugin's event table (spec/falco-core.md §9.1) ----------


def test_version_reports_the_rules_engine_version(env):
    """The real rules package, not a fake: ``Engine:`` is the version rules files' Falco
    ``required_engine_version`` is checked against; JSON is compact (nlohmann's ``dump()``)."""
    from pyfalco.rules import ENGINE_VERSION

    cfg = env.config("")
    r = env.run("-c", str(cfg), "--version")
    assert r.returncode == 0, r.stderr
    assert f"Engine:        {ENGINE_VERSION}\n" in r.stdout and ENGINE_VERSION != "0.0.0"
    r = env.run("-c", str(cfg), "--version", "-o", "json_output=true")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('{"default_driver_version":"",')
    v = json.loads(r.stdout)
    assert v["engine_version_semver"] == ENGINE_VERSION
    assert v["engine_version"] == ENGINE_VERSION.split(".")[1]


def test_ignored_events_prints_falcos_ignored_syscalls(env):
    from pyfalco_syscall.ebpf.interesting import IGNORED_SET

    r = env.run("-i")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("Ignored syscall(s):\n" + "".join(f"- {n}\n" for n in sorted(IGNORED_SET))
                        + "\n")
    assert "- read\n" in r.stdout and "- close\n" not in r.stdout  # close is state, never ignored


def test_list_events_text_markdown_json(env):
    r = env.run("--list-events")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("The events below are valid for Falco *Schema Version*: ")
    heads = [out.index(h) for h in ("## Syscall events\n\n", "\n\n\n## Tracepoint events\n\n",
                                    "\n\n\n## Plugin events\n\n", "\n\n\n## Metaevents\n\n")]
    assert heads == sorted(heads)
    assert "\n> open(FSPATH **name**, FLAGS32 **flags**: O_LARGEFILE, O_DIRECTORY" in out
    assert "\n< close(ERRNO **res**)\n" in out
    # a syscall with no dedicated event: listed by name under the generic schema
    assert ("\n> getppid(SYSCALLID **ID**, UINT16 **nativeID**)\n"
            "< getppid(SYSCALLID **ID**)\n") in out
    assert "sched_process_exit(" not in out  # a tracepoint code, not a syscall
    assert "\n> procexit(" in out.split("## Tracepoint events")[1].split("## Plugin")[0]
    assert "\n> pluginevent(UINT32 **plugin_id**, BYTEBUF **event_data**)" in out

    md = env.run("--list-events", "--format", "markdown").stdout
    assert ("## Syscall events\n\nDefault | Dir | Name | Params \n"
            ":-------|:----|:-----|:-----\n") in md
    assert "\nYes | `>` | `open` | FSPATH **name**, FLAGS32 **flags**: *O_LARGEFILE*, " in md
    assert "\nNo | `>` | `read` | FD **fd**, UINT32 **size**\n" in md  # ignored by default

    doc = json.loads(env.run("--list-events", "--format=json").stdout)
    assert set(doc) == {"syscall", "tracepoint", "plugin", "metaevent"}
    read = next(e for e in doc["syscall"] if e["name"] == "read" and e["dir"] == ">")
    assert read == {"name": "read", "dir": ">", "default": False,
                    "params": [{"name": "fd", "type": "FD"}, {"name": "size", "type": "UINT32"}]}


def test_default_config_loads_each_shipped_rules_file_once(env):
    """k8saudit-eks/-gke register k8saudit's own rules file: the default load (`make run`) lists
    and loads it once, in first-registration order."""
    r = env.run("--dry-run")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.endswith("Loading rules from:"))
    paths = []
    for ln in lines[start + 1:]:
        if not ln.split(": ", 1)[-1].startswith("   "):
            break
        path, status = ln.split(": ", 1)[1].strip().split(" | ")
        assert status == "schema validation: ok"  # as Falco logs each rules file
        paths.append(path)
    assert sum(p.endswith("/k8s_audit_rules.yaml") for p in paths) == 1
    assert len(paths) == len(set(paths)) >= 2
