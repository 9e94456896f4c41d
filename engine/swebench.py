"""SWE-bench instances verified as the official harness verifies them, with the harness's
own code (the optional extra ``trajscope[swebench]``, imported only here and lazily).

For an instance row whose repository and version the harness knows, ``eval_script`` is the
harness's evaluation script (activate ``testbed``, reset the test files, apply the test
patch, run the repository's own test command between its output markers) and ``grade``
reads its output with the repository's own log parser and grading (``get_eval_report``):
resolved, applied and the status of every FAIL_TO_PASS and PASS_TO_PASS test.

swebench 4.1 is the version pinned: its per-repository spec tables
(``MAP_REPO_VERSION_TO_SPECS``) grade the classic rows of Lite, Verified and full
(``repo``, ``version``, JSON-text test lists, no ``eval_script`` field), which 5.x dropped.
"""

from __future__ import annotations

import json
import os
import tempfile

EXTRA_HINT = "install the SWE-bench harness with `pip install 'trajscope[swebench]'`"


class HarnessError(Exception):
    """The harness cannot grade this instance; one sentence for the user."""


def available() -> bool:
    """Whether the harness is installed."""
    try:
        import swebench.harness.grading  # noqa: F401
    except ImportError:
        return False
    return True


def knows(row: dict | None) -> bool:
    """Whether ``row`` is an instance the harness has a spec for (an installed harness)."""
    if not isinstance(row, dict) or not row.get("repo") or row.get("version") in (None, ""):
        return False
    try:
        from swebench.harness.constants import MAP_REPO_VERSION_TO_SPECS
    except ImportError:
        return False
    return str(row.get("version")) in MAP_REPO_VERSION_TO_SPECS.get(str(row["repo"]), {})


def _instance(row: dict) -> dict:
    """The row as the harness reads it (versions are text; absent optional fields filled)."""
    out = dict(row)
    out["version"] = str(out.get("version"))
    out.setdefault("environment_setup_commit", out.get("base_commit", ""))
    out.setdefault("patch", "")
    out.setdefault("hints_text", "")
    out.setdefault("created_at", "")
    return out


def spec(row: dict):
    """The harness's TestSpec of ``row`` (HarnessError when it has none).

    Built from the harness's own parts but without its environment script: that one is only
    for building images, and for many repositories (Django, ...) making it downloads their
    requirement files from GitHub, a network call on every verification that hangs or fails
    offline. The evaluation script and the grading need none of it."""
    try:
        from swebench.harness.constants import MAP_REPO_TO_EXT, MAP_REPO_VERSION_TO_SPECS
        from swebench.harness.test_spec.test_spec import TestSpec, make_eval_script_list
    except ImportError:
        raise HarnessError(f"verifying {row.get('instance_id')} as SWE-bench does needs its harness: "
                           f"{EXTRA_HINT}") from None
    if not knows(row):
        raise HarnessError(f"the SWE-bench harness has no test spec for {row.get('repo')} version "
                           f"{row.get('version')} ({row.get('instance_id')})")
    instance = _instance(row)
    try:
        specs = MAP_REPO_VERSION_TO_SPECS[instance["repo"]][instance["version"]]
        tests = {key: json.loads(instance[key]) if isinstance(instance.get(key), str) else list(instance.get(key) or [])
                 for key in ("FAIL_TO_PASS", "PASS_TO_PASS")}
        script = make_eval_script_list(instance, specs, "testbed", "/testbed", instance["base_commit"],
                                       instance["test_patch"])
        return TestSpec(instance_id=instance["instance_id"], repo=instance["repo"], version=instance["version"],
                        repo_script_list=[], eval_script_list=script, env_script_list=[], arch="x86_64",
                        FAIL_TO_PASS=tests["FAIL_TO_PASS"], PASS_TO_PASS=tests["PASS_TO_PASS"],
                        language=MAP_REPO_TO_EXT[instance["repo"]], docker_specs=specs.get("docker_specs", {}),
                        namespace=None)
    except (KeyError, ValueError, TypeError) as exc:
        raise HarnessError(f"{row.get('instance_id')} is not a SWE-bench instance the harness can read "
                           f"({type(exc).__name__}: {exc})") from None


def eval_script(row: dict) -> str:
    return spec(row).eval_script


def grade(row: dict, log: str, patch: str | None) -> dict:
    """The harness's report for ``log`` (the output of the evaluation script): ``resolved``,
    ``applied`` and ``tests`` ({FAIL_TO_PASS, PASS_TO_PASS} -> {success, failure})."""
    from swebench.harness.grading import get_eval_report

    test_spec = spec(row)
    prediction = {"instance_id": test_spec.instance_id, "model_name_or_path": "trajscope", "model_patch": patch}
    fd, path = tempfile.mkstemp(prefix="trajscope-harness-", suffix=".log")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as fh:
            fh.write(log)
        report = get_eval_report(test_spec, prediction, path, include_tests_status=True)[test_spec.instance_id]
    finally:
        os.unlink(path)
    status = report.get("tests_status") or {}
    tests = {key: {"success": list((status.get(key) or {}).get("success") or []),
                   "failure": list((status.get(key) or {}).get("failure") or [])}
             for key in ("FAIL_TO_PASS", "PASS_TO_PASS")}
    return {"resolved": bool(report.get("resolved")), "applied": bool(report.get("patch_successfully_applied")),
            "tests": tests, "report": json.loads(json.dumps(report))}
