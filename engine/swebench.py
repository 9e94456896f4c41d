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

Rows of the 5.x shape carry their own ``eval_script`` and ``log_parser`` (a parser's name),
and optionally ``eval_type``: they are run with their own script and graded with the named
parser and the harness's report functions. With swebench 5.x installed instead, those rows
are graded by 5.x's own ``make_test_spec`` and ``get_eval_report``; classic rows then need
4.1, which is the version the extra pins.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from functools import cache
from trajscope.engine.errors import UserCausedError

EXTRA_HINT = "install the SWE-bench harness with `pip install 'trajscope[swebench]'`"


class HarnessError(UserCausedError):
    """The harness cannot grade this instance; one sentence for the user."""


@cache
def available() -> bool:
    """Whether the harness is installed. Its modules are imported here first, keeping the
    process's logging as it was: importing them configures the root logger (INFO, a stream
    handler), which would print every library's INFO lines into trajscope's output."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        import swebench.harness.grading  # noqa: F401
        import swebench.harness.log_parsers  # noqa: F401
    except ImportError:
        return False
    finally:
        root.setLevel(level)
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
    return True


def major() -> int:
    """The installed harness's major version (0 when it is not installed)."""
    if not available():
        return 0
    import swebench

    try:
        return int(str(getattr(swebench, "__version__", "4")).split(".")[0])
    except ValueError:
        return 4


def carried(row: dict | None) -> bool:
    """Whether ``row`` is of the 5.x shape: it carries its evaluation script and the name of
    its log parser."""
    return (
        isinstance(row, dict)
        and isinstance(row.get("eval_script"), str)
        and bool(row["eval_script"].strip())
        and isinstance(row.get("log_parser"), str)
        and bool(row["log_parser"])
    )


def knows(row: dict | None) -> bool:
    """Whether ``row`` is an instance the harness can grade (an installed harness)."""
    if carried(row):
        return major() > 0
    if not available() or not isinstance(row, dict) or not row.get("repo") or row.get("version") in (None, ""):
        return False
    if major() >= 5:
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
    if not available():
        raise HarnessError(f"verifying {row.get('instance_id')} as SWE-bench does needs its harness: {EXTRA_HINT}")
    if not knows(row):
        if major() >= 5:
            raise HarnessError(
                f"{row.get('instance_id')} is a classic SWE-bench row (no eval_script and log_parser "
                f"fields), which swebench {major()}.x cannot grade: install the pinned harness "
                "with `pip install 'trajscope[swebench]'` (swebench 4.1)"
            )
        raise HarnessError(
            f"the SWE-bench harness has no test spec for {row.get('repo')} version "
            f"{row.get('version')} ({row.get('instance_id')})"
        )
    if carried(row):
        return _carried_spec(row)
    from swebench.harness.constants import MAP_REPO_TO_EXT, MAP_REPO_VERSION_TO_SPECS
    from swebench.harness.test_spec.test_spec import TestSpec, make_eval_script_list

    instance = _instance(row)
    try:
        specs = MAP_REPO_VERSION_TO_SPECS[instance["repo"]][instance["version"]]
        tests = {
            key: json.loads(instance[key]) if isinstance(instance.get(key), str) else list(instance.get(key) or [])
            for key in ("FAIL_TO_PASS", "PASS_TO_PASS")
        }
        script = make_eval_script_list(
            instance, specs, "testbed", "/testbed", instance["base_commit"], instance["test_patch"]
        )
        return TestSpec(
            instance_id=instance["instance_id"],
            repo=instance["repo"],
            version=instance["version"],
            repo_script_list=[],
            eval_script_list=script,
            env_script_list=[],
            arch="x86_64",
            FAIL_TO_PASS=tests["FAIL_TO_PASS"],
            PASS_TO_PASS=tests["PASS_TO_PASS"],
            language=MAP_REPO_TO_EXT[instance["repo"]],
            docker_specs=specs.get("docker_specs", {}),
            namespace=None,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise HarnessError(
            f"{row.get('instance_id')} is not a SWE-bench instance the harness can read ({type(exc).__name__}: {exc})"
        ) from None


def _tests(row: dict, key: str) -> list[str]:
    value = row.get(key)
    return json.loads(value) if isinstance(value, str) else list(value or [])


def _carried_spec(row: dict):
    """The TestSpec of a 5.x-shaped row: with swebench 5.x, its own; with 4.1, one whose
    evaluation script is the row's."""
    instance = _instance(row)
    try:
        if major() >= 5:
            from swebench.harness.utils import make_test_spec

            instance.setdefault("image", row.get("image") or "")
            instance.setdefault("eval_type", "pass_and_fail")
            return make_test_spec(instance)
        from swebench.harness.test_spec.test_spec import TestSpec

        lines = [
            line
            for line in instance["eval_script"].strip().split("\n")
            if line not in ("#!/bin/bash", "set -uxo pipefail")
        ]
        return TestSpec(
            instance_id=instance["instance_id"],
            repo=str(instance.get("repo") or ""),
            version=instance["version"],
            repo_script_list=[],
            eval_script_list=lines,
            env_script_list=[],
            arch="x86_64",
            FAIL_TO_PASS=_tests(instance, "FAIL_TO_PASS"),
            PASS_TO_PASS=_tests(instance, "PASS_TO_PASS"),
            language="py",
            docker_specs={},
            namespace=None,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise HarnessError(
            f"{row.get('instance_id')} is not a SWE-bench instance the harness can read ({type(exc).__name__}: {exc})"
        ) from None


def _parser(name: str):
    """The harness's log parser called ``name`` (4.1 keeps them per language)."""
    from swebench.harness import log_parsers

    for module in ("python", "javascript", "java", "go", "rust", "c", "php", "ruby"):
        found = getattr(getattr(log_parsers, module, None), name, None)
        if callable(found) and name.startswith("parse_log"):
            return found
    raise HarnessError(f"the installed SWE-bench harness has no log parser called {name!r}")


def _carried_report_41(row: dict, test_spec, log: str, patch: str | None) -> dict:
    """get_eval_report for a 5.x-shaped row with swebench 4.1: its status map from the named
    parser between the harness's markers (what 4.1's get_logs_eval does, which looks the
    parser up by repository instead), then the harness's own report functions."""
    from swebench.harness.constants import (
        APPLY_PATCH_FAIL,
        END_TEST_OUTPUT,
        FAIL_TO_PASS,
        PASS_TO_PASS,
        RESET_FAILED,
        START_TEST_OUTPUT,
        TESTS_ERROR,
        TESTS_TIMEOUT,
        EvalType,
        ResolvedStatus,
    )
    from swebench.harness.grading import get_eval_tests_report, get_resolution_status

    parse = _parser(row["log_parser"])
    try:
        eval_type = EvalType(row.get("eval_type") or "pass_and_fail")
    except ValueError:
        raise HarnessError(f"{row.get('instance_id')}: unknown eval_type {row.get('eval_type')!r}") from None
    report = {
        "patch_is_None": patch is None,
        "patch_exists": patch is not None,
        "patch_successfully_applied": False,
        "resolved": False,
    }
    if patch is None:
        return report
    bad = any(code in log for code in (APPLY_PATCH_FAIL, RESET_FAILED, TESTS_ERROR, TESTS_TIMEOUT))
    if bad or START_TEST_OUTPUT not in log or END_TEST_OUTPUT not in log:
        return report
    status = parse(log.split(START_TEST_OUTPUT)[1].split(END_TEST_OUTPUT)[0], test_spec) or parse(log, test_spec)
    report["patch_successfully_applied"] = True
    tests = get_eval_tests_report(
        status,
        {
            "instance_id": test_spec.instance_id,
            FAIL_TO_PASS: test_spec.FAIL_TO_PASS,
            PASS_TO_PASS: test_spec.PASS_TO_PASS,
        },
        eval_type=eval_type,
    )
    report["resolved"] = get_resolution_status(tests) == ResolvedStatus.FULL.value
    report["tests_status"] = tests
    return report


def eval_script(row: dict) -> str:
    return spec(row).eval_script


def grade(row: dict, log: str, patch: str | None) -> dict:
    """The harness's report for ``log`` (the output of the evaluation script): ``resolved``,
    ``applied`` and ``tests`` ({FAIL_TO_PASS, PASS_TO_PASS} -> {success, failure})."""
    from swebench.harness.grading import get_eval_report

    test_spec = spec(row)
    if carried(row) and major() < 5:
        report = _carried_report_41(row, test_spec, log, patch)
    else:
        prediction = {"instance_id": test_spec.instance_id, "model_name_or_path": "trajscope", "model_patch": patch}
        fd, path = tempfile.mkstemp(prefix="trajscope-harness-", suffix=".log")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as fh:
                fh.write(log)
            report = get_eval_report(test_spec, prediction, path, include_tests_status=True)[test_spec.instance_id]
        finally:
            os.unlink(path)
    status = report.get("tests_status") or {}
    tests = {
        key: {
            "success": list((status.get(key) or {}).get("success") or []),
            "failure": list((status.get(key) or {}).get("failure") or []),
        }
        for key in ("FAIL_TO_PASS", "PASS_TO_PASS")
    }
    return {
        "resolved": bool(report.get("resolved")),
        "applied": bool(report.get("patch_successfully_applied")),
        "tests": tests,
        "report": json.loads(json.dumps(report)),
    }
