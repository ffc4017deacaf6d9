"""Falco's 66-case k8s audit regression suite, run through the ``pyfalco`` command.

The cases are read from ../shared/upstream/falco-tests/falco_k8s_audit_tests.yaml (never
copied): for each one, ``pyfalco`` runs as Falco's harness ran falco — the case's rules files,
the suite's own config (confs/plugins/k8s_audit.yaml: k8saudit + json; its library_path is
accepted and ignored), ``-o plugins[0].open_params=<trace>`` (one-shot file mode),
``--enable-source=k8s_audit`` — and the end-of-run statistics must show what Falco expected:
``Events detected`` (0 when ``detect: False``), a ``<LEVEL>: n`` line for ``detect_level``, the
per-rule counts of ``detect_counts``, ``stderr_contains``, and exit code 0.

Path mapping (issue 4): BUILD_DIR's k8s_audit_rules.yaml is rules/k8s_audit_rules.yaml (today's
upstream rules); BUILD_DIR's falco_rules.yaml is rules/legacy/falco_rules-1.0.1.yaml (the syscall
ruleset of 2022), loaded first in every case that lists it, as Falco's harness did.

Deviation from the suite's config (``SUITE_PLUGINS``): the legacy ruleset reads ``container.*``
fields. In the Falco of the suite they were built into libs; in pyfalco they come from the
``container`` plugin (Falco itself needs its container plugin for them since 0.41), whose
extractor works on the ``syscall`` source that pyfalco's ``syscall`` plugin (the built-in syscall
support) provides. So each case runs with a copy of confs/plugins/k8s_audit.yaml that also loads
``syscall`` and ``container`` (after k8saudit and json, so ``plugins[0]`` is still k8saudit, as
the cases' ``-o plugins[0].open_params`` expect). With ``--enable-source=k8s_audit`` neither
opens anything; they only make the legacy rules compile (their syscall rules are loaded and never
see an event).

Renames since the suite was written (spec/plugins.md §7), applied here:

* cases create_clusterrole, delete_clusterrole, create_clusterrolebinding,
  delete_clusterrolebinding: the rules ``K8s Role/Clusterrole Created|Deleted`` and
  ``K8s Role/Clusterrolebinding Created|Deleted`` are now ``K8s ClusterRole Created|Deleted``
  and ``K8s ClusterRoleBinding Created|Deleted`` (``RULE_RENAMES``);
* rules/k8s_audit/trust_nginx_container.yaml appends nginx to ``falco_*_images`` lists; today's
  k8s audit rules read ``k8s_audit_{sensitive_mount,privileged,hostnetwork}_images`` instead.
  The suite's file is replaced by one that appends nginx to the three ``k8s_audit_*`` lists (as
  the maintained Go port does) and, for the engine-v4 rules, still appends it to the
  ``falco_sensitive_mount_images`` / ``falco_privileged_images`` lists of the legacy ruleset;
  ``falco_hostnetwork_images`` was defined by the k8s rules of the time, which no loaded file
  does any more, so it is defined with nginx — see ``TRUST_NGINX``. (The suite's own file does
  not load with today's rules for that reason: "List uses 'append' or 'override.items: append'
  but no list by that name already exists" for ``falco_hostnetwork_images``.)
* rules/k8s_audit/engine_v4_k8s_audit_rules.yaml (the engine-v4 compatibility rules, cases
  compat_engine_v4_*) tests ``ka.req.role.rules.resources contains "pods/exec"``: that field
  is a list and current Falco refuses ``contains`` on lists ("'contains' operator not
  supported list filters", libs' flt_is_comparable), so the file does not load in Falco today
  nor in pyfalco (``test_engine_v4_rules_are_refused_as_by_current_falco``). The cases run
  with a copy where that one condition says ``intersects ("pods/exec")`` (``E4_FIX``), so they
  still check what they are about: the deprecated ``ka.req.container.*`` and
  ``ka.req.volume.hostpath[...]`` fields.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
PYFALCO = Path(sys.executable).with_name("pyfalco")

RULE_RENAMES = {
    "K8s Role/Clusterrole Created": "K8s ClusterRole Created",
    "K8s Role/Clusterrole Deleted": "K8s ClusterRole Deleted",
    "K8s Role/Clusterrolebinding Created": "K8s ClusterRoleBinding Created",
    "K8s Role/Clusterrolebinding Deleted": "K8s ClusterRoleBinding Deleted",
}

TRUST_NGINX = """\
# pyfalco's replacement of rules/k8s_audit/trust_nginx_container.yaml (spec/plugins.md §7)
- list: k8s_audit_sensitive_mount_images
  items: [nginx]
  override:
    items: append
- list: k8s_audit_privileged_images
  items: [nginx]
  override:
    items: append
- list: k8s_audit_hostnetwork_images
  items: [nginx]
  override:
    items: append
- list: falco_sensitive_mount_images
  items: [nginx]
  append: true
- list: falco_privileged_images
  items: [nginx]
  append: true
- list: falco_hostnetwork_images
  items: [nginx]
"""


#: Added to the suite's ``plugins`` / ``load_plugins`` (see the module docstring).
SUITE_PLUGINS = ({"name": "syscall", "init_config": {}}, {"name": "container", "init_config": {}})

E4 = "rules/k8s_audit/engine_v4_k8s_audit_rules.yaml"
E4_FIX = ('ka.req.role.rules.resources contains "pods/exec"',
          'ka.req.role.rules.resources intersects ("pods/exec")')


class _SuiteLoader(yaml.SafeLoader):
    """Avocado's ``!mux`` tag marks a plain mapping of variants."""


_SuiteLoader.add_constructor(
    "!mux", lambda loader, node: loader.construct_mapping(node, deep=True))


def _suite_file() -> Path:
    # collection happens before fixtures: the same location as the root conftest's `upstream`
    shared = Path(os.environ.get("PYFALCO_SHARED", REPO.parent / "shared")).resolve()
    return shared / "upstream" / "falco-tests" / "falco_k8s_audit_tests.yaml"


def _cases() -> list[tuple[str, dict[str, Any]]]:
    path = _suite_file()
    if not path.is_file():
        return []
    doc = yaml.load(path.read_text(), Loader=_SuiteLoader)  # noqa: S506 - SafeLoader subclass
    return list(doc["trace_files"].items())


CASES = _cases()


def _suite_config(conf: Path, tmp: Path) -> Path:
    """The case's config plus :data:`SUITE_PLUGINS`."""
    doc = yaml.safe_load(conf.read_text())
    doc["plugins"] = [*doc["plugins"], *SUITE_PLUGINS]
    doc["load_plugins"] = [*doc["load_plugins"], *(p["name"] for p in SUITE_PLUGINS)]
    out = tmp / conf.name
    out.write_text(yaml.safe_dump(doc))
    return out


def _rules_path(entry: str, upstream: Path, tmp: Path) -> Path:
    if entry.endswith("/falco_rules.yaml") and entry.startswith("BUILD_DIR"):
        return upstream / "rules" / "legacy" / "falco_rules-1.0.1.yaml"
    if entry.endswith("/k8s_audit_rules.yaml") and entry.startswith("BUILD_DIR"):
        return upstream / "rules" / "k8s_audit_rules.yaml"
    if entry == "./rules/k8s_audit/trust_nginx_container.yaml":
        trust = tmp / "trust_nginx_container.yaml"
        trust.write_text(TRUST_NGINX)
        return trust
    if entry == f"./{E4}":
        text = (upstream / "falco-tests" / E4).read_text()
        assert text.count(E4_FIX[0]) == 1
        fixed = tmp / "engine_v4_k8s_audit_rules.yaml"
        fixed.write_text(text.replace(*E4_FIX))
        return fixed
    assert entry.startswith("./"), entry
    return upstream / "falco-tests" / entry[2:]


def _parse_stats(stdout: str) -> tuple[int | None, dict[str, int], dict[str, int]]:
    m = re.search(r"^Events detected: (\d+)$", stdout, re.M)
    events = int(m.group(1)) if m else None
    by_severity: dict[str, int] = {}
    by_rule: dict[str, int] = {}
    block: dict[str, int] | None = None
    for line in stdout.splitlines():
        if line.startswith("Rule counts by severity:"):
            block = by_severity
        elif line.startswith("Triggered rules by rule name:"):
            block = by_rule
        elif block is not None and line.startswith("   "):
            name, _, count = line.strip().rpartition(": ")
            block[name] = int(count)
        else:
            block = None
    return events, by_severity, by_rule


def test_the_suite_has_66_cases() -> None:
    assert len(CASES) == 66


def test_engine_v4_rules_are_refused_as_by_current_falco(upstream: Path, tmp_path: Path) -> None:
    conf = upstream / "falco-tests" / "confs" / "plugins" / "k8s_audit.yaml"
    proc = subprocess.run(
        [str(PYFALCO), "-c", str(conf), "-r", str(upstream / "falco-tests" / E4),
         "--enable-source=k8s_audit", "-o", "plugins[0].open_params=/dev/null"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 1
    assert "'contains' operator not supported list filters" in proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("name", "case"), CASES, ids=[name for name, _ in CASES])
def test_case(name: str, case: dict[str, Any], upstream: Path, tmp_path: Path) -> None:
    tests_dir = upstream / "falco-tests"
    conf = tests_dir / case["conf_file"].replace("BUILD_DIR/test/", "")
    assert conf.is_file(), conf
    cmd = [str(PYFALCO), "-c", str(_suite_config(conf, tmp_path))]
    for entry in case["rules_file"]:
        cmd += ["-r", str(_rules_path(entry, upstream, tmp_path))]
    cmd += ["-o", "json_output=False", "-o", "json_include_output_property=True",
            "-o", "json_include_tags_property=True", "-o", "priority=debug", "-v",
            f"--enable-source={case['enable_source']}"]
    opts = shlex.split(case.get("addl_cmdline_opts", ""))
    # "-o plugins[0].open_params=trace_files/..." is relative to the suite's directory
    cmd += [o.replace("open_params=trace_files/", f"open_params={tests_dir}/trace_files/")
            for o in opts]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    context = f"\n$ {shlex.join(cmd)}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert proc.returncode == 0, context

    events, by_severity, by_rule = _parse_stats(proc.stdout)
    assert events is not None, "no 'Events detected' line" + context
    if case["detect"]:
        assert events > 0, context
        level = case["detect_level"].upper()
        level = "INFO" if level == "INFORMATIONAL" else level
        assert {k.upper(): v for k, v in by_severity.items()}.get(level, 0) > 0, context
    else:
        assert events == 0, context
    for entry in case.get("detect_counts", []):
        ((rule, count),) = entry.items()
        rule = RULE_RENAMES.get(rule, rule)
        assert by_rule.get(rule, 0) == count, f"{rule}: {by_rule.get(rule, 0)} != {count}" + context
    if "stderr_contains" in case:
        assert re.search(case["stderr_contains"], proc.stderr), context
