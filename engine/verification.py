"""Verification of a patch: applied with the task's hidden tests in a fresh sandbox, the tests
run and read per test (pytest through ``-rA`` and a JUnit report, unittest ``-v``), or, for a
SWE-bench row with the harness installed, the harness's own eval script and grading
(docs/architecture.md section 3)."""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from trajscope.engine.sandbox.base import Sandbox, SandboxError
from trajscope.engine.tasks import TEST_TIMEOUT, Task, TaskError

_RESULT = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED)\s+(.+?)(?:\s+-\s.*)?$")
# unittest -v: "test_x (pkg.mod.Class) ... ok", or since Python 3.11 "test_x (pkg.mod.Class.test_x) ... ok";
# a docstring's first line may sit between the name and " ... ".
_UNITTEST = re.compile(
    r"^(\w+) \(([\w.]+)\)(?:\n.*?)? \.\.\. (ok|FAIL|ERROR|skipped.*|expected failure|unexpected success)$", re.MULTILINE
)
_UNITTEST_OUTCOME = {
    "ok": "PASSED",
    "FAIL": "FAILED",
    "ERROR": "ERROR",
    "expected failure": "XFAIL",
    "unexpected success": "FAILED",
}

JUNIT_FILE = ".trajscope-junit.xml"


def parse_test_log(log: str) -> dict[str, str]:
    """Test id -> outcome, from pytest's ``-rA`` summary lines and unittest's ``-v`` lines."""
    outcomes: dict[str, str] = {}
    for line in log.splitlines():
        m = _RESULT.match(line.strip())
        if m:
            outcomes[m.group(2).strip()] = m.group(1)
    for m in _UNITTEST.finditer(log):
        name, where, word = m.groups()
        outcome = "SKIPPED" if word.startswith("skipped") else _UNITTEST_OUTCOME[word]
        where = where.removesuffix("." + name)
        outcomes.setdefault(f"{name} ({where})", outcome)  # SWE-bench's id for unittest tests
        outcomes.setdefault(f"{where}.{name}", outcome)
    return outcomes


def parse_junit(xml: str) -> dict[str, str]:
    """Test id -> outcome from a pytest JUnit XML report (``junit_family=xunit1``, which
    names each test's file), with ids as pytest writes them (``path.py::Class::test[param]``)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return {}
    outcomes: dict[str, str] = {}
    for case in root.iter("testcase"):
        name, classname, file = case.get("name") or "", case.get("classname") or "", case.get("file") or ""
        if not name:
            continue
        if file:
            module = file.removesuffix(".py").replace("/", ".")
            rest = classname[len(module) + 1 :] if classname.startswith(module + ".") else ""
            test_id = "::".join([file, *filter(None, rest.split(".")), name])
        else:
            test_id = f"{classname}::{name}" if classname else name
        if case.find("failure") is not None:
            outcome = "FAILED"
        elif case.find("error") is not None:
            outcome = "ERROR"
        elif (skipped := case.find("skipped")) is not None:
            outcome = "XFAIL" if (skipped.get("type") or "").endswith("xfail") else "SKIPPED"
        else:
            outcome = "PASSED"
        if outcomes.get(test_id) in (None, "PASSED"):  # a teardown error after a pass counts
            outcomes[test_id] = outcome
    return outcomes


def with_test_reports(command: str, repo: str) -> str:
    """``command`` with pytest asked, whatever flags it was given and however it is started
    (``pytest``, ``python -m pytest``, a script that runs it), for the reports trajscope
    reads: ``-rA`` summary lines and a JUnit XML file. Other test runners ignore it."""
    junit = f"{repo.rstrip('/')}/{JUNIT_FILE}"
    return (
        f"rm -f {shlex.quote(junit)}\n"
        f'export PYTEST_ADDOPTS="${{PYTEST_ADDOPTS:-}} -rA -o junit_family=xunit1 --junitxml={junit}"\n'
        f"{command}"
    )


@dataclass(slots=True)
class VerifyResult:
    instance_id: str
    patch_applied: bool
    fail_to_pass: dict[str, bool] = field(default_factory=dict)
    pass_to_pass: dict[str, bool] = field(default_factory=dict)
    error: str = ""
    log: str = ""
    duration_s: float = 0.0
    sandbox: str = ""

    unknown: bool = False  # no per-test result could be read: the verdict is an error
    grader: str = "trajscope"  # or "swebench harness": its eval script, log parser and grading
    decided: bool | None = None  # the harness's own verdict, when it graded
    # listed tests that neither passed nor failed (skipped, or absent from the harness's parse):
    # the harness counts them on neither side, so a skipped PASS_TO_PASS test does not fail it
    skipped: list[str] = field(default_factory=list)

    @property
    def resolved(self) -> bool:
        if self.decided is not None:
            return self.decided
        return (
            self.patch_applied
            and not self.error
            and all(self.fail_to_pass.values())
            and all(self.pass_to_pass.values())
        )

    @property
    def verdict(self) -> str:
        """resolved; unresolved (the patch does not apply, or a test failed); or error (the
        tests could not say: no per-test result was read, with the reason in ``error``)."""
        if self.resolved:
            return "resolved"
        return "error" if self.unknown else "unresolved"

    def verified(self) -> dict:
        """The ``verified`` field of a ``submitted`` event."""
        both = {**self.fail_to_pass, **self.pass_to_pass}
        out = {
            "passed": [t for t, ok in both.items() if ok],
            "failed": [t for t, ok in both.items() if not ok],
            "resolved": self.resolved,
            "verdict": self.verdict,
            "grader": self.grader,
        }
        if self.skipped:
            out["skipped"] = list(self.skipped)
        if self.unknown:
            out |= {"passed": [], "failed": [], "skipped": []}
        return out

    def to_json(self) -> dict:
        def split(tests: dict[str, bool]) -> dict:
            return {
                "success": [t for t, ok in tests.items() if ok],
                "failure": [t for t, ok in tests.items() if not ok],
            }

        return {
            "instance_id": self.instance_id,
            "resolved": self.resolved,
            "verdict": self.verdict,
            "patch_applied": self.patch_applied,
            "FAIL_TO_PASS": split(self.fail_to_pass),
            "PASS_TO_PASS": split(self.pass_to_pass),
            "skipped": list(self.skipped),
            "error": self.error or None,
            "duration_s": round(self.duration_s, 3),
            "sandbox": self.sandbox,
            "grader": self.grader,
        }


_PATCH_FILE = ".trajscope-apply.diff"


def apply_patch(sandbox: Sandbox, patch: str, what: str = "the patch") -> None:
    """Apply a unified diff in the sandbox's repository, or raise TaskError saying why not."""
    if not patch.strip():
        return
    if not patch.endswith("\n"):
        patch += "\n"
    sandbox.write(_PATCH_FILE, patch)
    try:
        attempts = (
            f"git apply --verbose --whitespace=nowarn {_PATCH_FILE}",
            f"patch --batch --forward --fuzz=5 -p1 -i {_PATCH_FILE}",
        )
        reasons = []
        for command in attempts:
            result = sandbox.run(command, timeout=60)
            if result.ok:
                return
            lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
            reasons.append(lines[-1] if lines else f"exit code {result.exit_code}")
        raise TaskError(f"{what} does not apply: {reasons[0]}")
    finally:
        sandbox.run(f"rm -f {_PATCH_FILE}", timeout=30)


def verify(
    task: Task, patch: str, sandbox: str = "local", timeout: float = TEST_TIMEOUT, progress=None, **options
) -> VerifyResult:
    """Apply ``patch`` and the task's test patch in a fresh sandbox and run its tests.

    ``progress(phase)``, when given, hears each phase as it begins."""
    say = progress or (lambda phase: None)
    started = time.perf_counter()
    result = VerifyResult(task.instance_id, patch_applied=False, sandbox=sandbox)
    from trajscope.engine import swebench

    try:
        harness = _harness_row(task)
    except swebench.HarnessError as exc:
        result.error, result.unknown = str(exc), True
        return result
    say(f"opening a fresh {sandbox} sandbox")
    with task.open_sandbox(sandbox, **options) as box:
        if harness is not None:
            _verify_with_harness(task, harness, box, patch, result, timeout, say)
            result.duration_s = time.perf_counter() - started
            say("done")
            return result
        try:
            say("applying the patch")
            apply_patch(box, patch)
            result.patch_applied = True
            say("applying the task's tests")
            apply_patch(box, task.test_patch, "the task's test patch")
        except TaskError as exc:
            result.error = str(exc)
            result.unknown = result.patch_applied  # the task's own tests do not apply: nothing is known
        if not result.error:
            n_tests = len(task.FAIL_TO_PASS) + len(task.PASS_TO_PASS)
            say(f"running {n_tests} test(s): {task.test_command}")
            run = box.run(with_test_reports(task.test_command, box.repo), timeout=timeout)
            result.log = run.output
            if run.truncated and run.output_path:
                result.log = Path(run.output_path).read_text(encoding="utf-8", errors="replace")
            outcomes = parse_test_log(result.log)
            try:
                outcomes = {**outcomes, **parse_junit(box.read(JUNIT_FILE))}
            except SandboxError:  # not pytest, or it never got to write its report
                pass
            if run.timed_out:
                result.error = f"the tests timed out after {timeout:g} s"
            if not outcomes:
                result.unknown = True
                result.error = result.error or (
                    f"the test command printed no per-test result (exit code {run.exit_code}); trajscope "
                    "reads pytest (any flags) and `python -m unittest -v`"
                )
            passed = {"PASSED", "XFAIL"}
            # a FAIL_TO_PASS test must pass; a skipped PASS_TO_PASS test is kept out of the
            # verdict as the harness keeps it (a test the environment skips is no regression)
            result.fail_to_pass = {t: outcomes.get(t) in passed for t in task.FAIL_TO_PASS}
            result.skipped = [t for t in task.PASS_TO_PASS if outcomes.get(t) == "SKIPPED"]
            result.pass_to_pass = {t: outcomes.get(t) in passed for t in task.PASS_TO_PASS if t not in result.skipped}
    result.duration_s = time.perf_counter() - started
    say("done")
    return result


def _harness_row(task: Task) -> dict | None:
    """The SWE-bench row (``repo`` and ``version``) to verify with the official harness; None
    for task directories and rows that bring their own ``test_command``. A SWE-bench row
    without the harness installed raises HarnessError: trajscope's own reader runs pytest,
    which is not how Django, SymPy and others run their tests."""
    from trajscope.engine import swebench

    row = task.row
    if row is None or row.get("test_command"):
        return None
    if not swebench.carried(row) and (not row.get("repo") or row.get("version") in (None, "")):
        return None

    if not swebench.available():
        raise swebench.HarnessError(
            f"verifying {task.instance_id} as SWE-bench does needs its harness: {swebench.EXTRA_HINT}"
        )
    return row


def _verify_with_harness(task: Task, row: dict, box, patch: str, result: VerifyResult, timeout: float, say) -> None:
    """As ``swebench.harness.run_evaluation`` does: the patch applied (git apply, then patch
    with fuzz), the harness's evaluation script run in the container (it activates testbed,
    resets and patches the tests, runs the repository's test command), its output graded
    by the repository's log parser and ``get_eval_report``."""
    from trajscope.engine import swebench

    result.grader = "swebench harness"
    try:
        script = swebench.eval_script(row)  # HarnessError first: a row it cannot grade runs nothing
        say("applying the patch")
        apply_patch(box, patch)
        result.patch_applied = True
    except swebench.HarnessError as exc:
        result.error, result.unknown = str(exc), True
        return
    except TaskError as exc:
        result.error = str(exc)
        return
    say("running the SWE-bench harness's evaluation script")
    box.write(_EVAL_FILE, script)
    run = box.run(f"mv {_EVAL_FILE} /tmp/trajscope-eval.sh && /bin/bash /tmp/trajscope-eval.sh", timeout=timeout)
    result.log = run.output
    if run.truncated and run.output_path:
        result.log = Path(run.output_path).read_text(encoding="utf-8", errors="replace")
    if run.timed_out:
        result.log += "\n>>>>> Tests Timed Out\n"  # what the harness writes on a timeout
        result.error = f"the tests timed out after {timeout:g} s"
    grade_harness_log(task, row, result, patch, exit_code=run.exit_code)


def grade_harness_log(task: Task, row: dict, result: VerifyResult, patch: str, exit_code: int | None = None) -> None:
    """Fill ``result`` from ``result.log``, the output of the harness's evaluation script, as
    the harness grades it: its log parser between the output markers and ``get_eval_report``.
    A listed test on neither side of the harness's report (skipped, or not in its parse) goes
    to ``skipped``, as the harness counts it on neither side."""
    from trajscope.engine import swebench

    result.grader = "swebench harness"
    graded = swebench.grade(row, result.log, patch)
    if not graded["applied"]:
        result.unknown = True
        said = f" (exit code {exit_code})" if exit_code is not None else ""
        result.error = result.error or (
            f"the harness read no test output between its markers{said}: "
            "the test patch did not apply, or the tests errored"
        )
    for key, tests, into in (
        ("FAIL_TO_PASS", task.FAIL_TO_PASS, result.fail_to_pass),
        ("PASS_TO_PASS", task.PASS_TO_PASS, result.pass_to_pass),
    ):
        success, failure = set(graded["tests"][key]["success"]), set(graded["tests"][key]["failure"])
        into.update({t: t in success for t in tests if t in success or t in failure})
        result.skipped += [t for t in tests if t not in success and t not in failure]
    result.decided = graded["resolved"]


_EVAL_FILE = ".trajscope-eval.sh"
