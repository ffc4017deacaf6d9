"""Falco's rules-loading regression cases (``test/falco_tests.yaml`` and
``falco_tests_exceptions.yaml``, removed upstream in 2023) as tests of this engine.

Every case that names rules files is loaded through the public API: expected errors and
warnings (``validate_errors``/``validate_warnings``, messages in today's wording where they
changed, rule-language.md §7) must be reported; other cases must load cleanly. Cases that expect
detections on ``cat_write.scap`` / ``open-multiple-files.scap`` are also run against a small
synthetic model of those captures (the process, files and event types the cases rely on); the
same cases run on the real captures in ``tests/test_upstream_rules.py``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyfalco.priority import Priority
from pyfalco.rules import FieldCatalog, RulesContent, RulesEngine
from pyfalco.testing import select_as_falco_test

from .conftest import PLUGIN_FIELDS, SYSCALL_FIELDS, FakeEvent

#: Old message -> today's message (rule-language.md §7 brackets).
NEW_MESSAGES = {
    "Can't decode YAML scalar value":
        "Unable to parse engine version 'not-a-number' as a semver string. Expected \"x.y.z\" "
        "semver format.",
    "Macro has 'append' key but no macro by that name already exists":
        "Macro uses 'append' or 'override.condition: append' but no macro by that name already "
        "exists",
    "List has 'append' key but no list by that name already exists":
        "List uses 'append' or 'override.items: append' but no list by that name already exists",
    "Rule has 'append' key but no rule by that name already exists":
        "Rule uses 'append' or 'override.condition: append' but no rule by that name already "
        "exists",
}
NEW_CONTAINS = {
    "Rules require engine version 9999999, but engine version is":
        "Rules require engine version 0.9999999.0, but engine version is 0.63.0",
}
NEW_CODES = {"LOAD_UNKNOWN_FIELD": "LOAD_UNKNOWN_FILTER"}
#: The output-token error is "unknown filter: ..." today.
PREFIX_MESSAGES = {"invalid formatting token not_a_real_field": "unknown filter:"}


class _MuxLoader(yaml.SafeLoader):
    pass


_MuxLoader.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node))


def _cases(upstream_dir: Path) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for fname in ("falco_tests.yaml", "falco_tests_exceptions.yaml"):
        data = yaml.load((upstream_dir / fname).read_text(), Loader=_MuxLoader)
        for name, case in data["trace_files"].items():
            files = case.get("validate_rules_file") or case.get("rules_file")
            if not files or case.get("stderr_contains") and "rules" not in str(case):
                continue
            out.append((fname, name, case))
    return out


def _upstream_tests_dir() -> Path:
    """``../shared/upstream/falco-tests``, located as the root conftest's ``upstream`` fixture
    does (needed at collection time to parametrize)."""
    repo = Path(__file__).resolve().parents[3]
    shared = Path(os.environ.get("PYFALCO_SHARED", repo.parent / "shared"))
    return shared.resolve() / "upstream" / "falco-tests"


CASES = _cases(_upstream_tests_dir()) if _upstream_tests_dir().is_dir() else []
#: Cases whose expectations are about the app (CLI flag conflicts), not the rules engine.
APP_ONLY = {"disabled_and_enabled_rules_1", "disabled_and_enabled_rules_2"}


def _check_removed_selection_flags(base: Path, case: dict[str, Any]) -> None:
    """Falco removed -D/-T/-t (rules selection moved to the ``rules`` config key): the cases'
    flag combinations still end in exit status 1, now with Falco's unknown-option error."""
    import subprocess
    import sys

    args: list[str] = []
    for tag in case.get("disable_tags") or ():
        args += ["-T", tag]
    for tag in case.get("run_tags") or ():
        args += ["-t", tag]
    for rule in case.get("disabled_rules") or ():
        args += ["-D", rule]
    for f in case["rules_file"]:
        args += ["-r", str(base / f)]
    pyfalco = Path(sys.executable).with_name("pyfalco")
    run = subprocess.run([str(pyfalco), *args], capture_output=True, text=True, timeout=60)
    assert run.returncode == case["exit_status"], (run.stdout, run.stderr)
    first = args[0].lstrip("-")
    assert f"Error: Option '{first}' does not exist" in run.stderr, run.stderr


@pytest.fixture(scope="module")
def regression_catalog() -> FieldCatalog:
    return FieldCatalog.from_tables([SYSCALL_FIELDS, PLUGIN_FIELDS],
                                    sources=("syscall", "k8s_audit"))


def _contents(base: Path, case: dict[str, Any]) -> list[RulesContent]:
    files = case.get("validate_rules_file") or case.get("rules_file")
    if isinstance(files, str):
        files = [files]
    out = []
    for f in files:
        path = base / f
        paths = sorted(path.iterdir()) if path.is_dir() else [path]
        for p in paths:
            out.append(RulesContent(p.name, p.read_text()))
    return out


def _expected_message(exp: dict[str, Any], got: str) -> bool:
    if "message" in exp:
        msg = exp["message"]
        if msg in PREFIX_MESSAGES:
            return got.startswith(PREFIX_MESSAGES[msg])
        return got == NEW_MESSAGES.get(msg, msg)
    contains = exp["message_contains"]
    return NEW_CONTAINS.get(contains, contains) in got


def _find(expected: dict[str, Any], messages) -> bool:
    code = NEW_CODES.get(expected["code"], expected["code"])
    for m in messages:
        if (m.code == code and m.item_type == expected["item_type"]
                and m.item_name == str(expected["item_name"])
                and _expected_message(expected, m.message)):
            return True
    return False


# -- synthetic captures --------------------------------------------------------------------

def _cat_write() -> list[FakeEvent]:
    """cat_write.scap as the cases see it: ``cat /dev/null`` started from bash, one execve,
    eight opens (the last of /dev/null) and six more events on /dev/null."""
    base = {"proc.name": "cat", "proc.cmdline": "cat /dev/null", "proc.pname": "bash",
            "user.name": "root", "evt.args": ""}
    events = [FakeEvent("execve", **base)]
    opened = ["/etc/ld.so.cache", "/lib/x86_64-linux-gnu/libc.so.6",
              "/usr/lib/locale/locale-archive", "/usr/share/locale/locale.alias",
              "/usr/lib/locale/C.UTF-8/LC_CTYPE", "/usr/lib/x86_64-linux-gnu/gconv/gconv-modules",
              "/etc/passwd", "/dev/null"]
    for path in opened:
        events.append(FakeEvent("open", **base, **{"fd.name": path, "fd.typechar": "f",
                                                   "evt.is_open_read": True}))
    for etype in ("fstat", "fadvise64", "read", "read", "close", "close"):
        events.append(FakeEvent(etype, **base, **{"fd.name": "/dev/null"}))
    for i, e in enumerate(events, 1):
        e.num = i
    return events


def _open_multiple_files() -> list[FakeEvent]:
    events = []
    for i in range(1, 14):
        e = FakeEvent("open", num=i, **{"proc.name": "cat", "fd.name": f"/tmp/file-{i}",
                                        "evt.is_open_read": True, "fd.typechar": "f"})
        events.append(e)
    return events


TRACES = {"trace_files/cat_write.scap": _cat_write,
          "trace_files/open-multiple-files.scap": _open_multiple_files}


def _detections(engine: RulesEngine, case: dict[str, Any]) -> dict[str, list[Priority]]:
    select_as_falco_test(engine, case)
    evaluator = engine.evaluator("syscall")
    hits: dict[str, list[Priority]] = {}
    for event in TRACES[case["trace_file"]]():
        for m in evaluator.process(event):
            hits.setdefault(m.rule.name, []).append(m.rule.priority)
    return hits


@pytest.mark.parametrize(("fname", "name", "case"), CASES, ids=[c[1] for c in CASES])
def test_regression_case(regression_catalog: FieldCatalog, fname: str, name: str,
                         case: dict[str, Any]) -> None:
    base = _upstream_tests_dir()
    if name in APP_ONLY:
        _check_removed_selection_flags(base, case)
        return
    engine = RulesEngine(regression_catalog, loaded_sources=["syscall", "k8s_audit"])
    result = engine.load(_contents(base, case))
    errors, warnings = result.errors, result.warnings
    for exp in case.get("validate_errors") or ():
        assert _find(exp, errors), (exp, result.as_text(verbose=True))
    for exp in case.get("validate_warnings") or ():
        assert _find(exp, warnings), (exp, result.as_text(verbose=True))
    for ok_name in case.get("validate_ok") or ():
        assert next(f for f in result.files if f.name == ok_name).ok
    if case.get("validate_errors"):
        assert not result.ok
        return
    assert result.ok, result.as_text(verbose=True)
    if "detect" not in case or case.get("trace_file") not in TRACES:
        return
    hits = _detections(engine, case)
    if not case["detect"]:
        assert hits == {}, hits
        return
    assert hits, "expected detections"
    levels = case.get("detect_level")
    if levels:
        levels = [levels] if isinstance(levels, str) else levels
        allowed = {Priority.parse(x) for x in levels}
        assert {p for ps in hits.values() for p in ps} <= allowed
    for entry in case.get("detect_counts") or ():
        for rule_name, count in entry.items():
            assert len(hits.get(rule_name, [])) == count, (rule_name, hits)
    if "stdout_contains" in case and "cport=<NA>" in case["stdout_contains"]:
        engine2 = RulesEngine(regression_catalog)
        engine2.load(_contents(base, case))
        event = TRACES[case["trace_file"]]()[-7]
        match = engine2.evaluator("syscall").process(event)[0]
        assert match.output(event) == "An open was seen (cport=<NA> command=cat /dev/null)"


def test_builtin_rules_cases_present() -> None:
    assert len(CASES) > 90
