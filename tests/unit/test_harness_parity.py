"""Grading parity with the SWE-bench harness on real harness logs.

The logs in tests/fixtures/swebench-harness are the output of the harness's own
evaluation scripts run on the released source of Django, SymPy, requests and marshmallow (four
different log parsers), after the gold patch, a wrong one, no patch and a spoofing one
(scripts/samples/harness_logs.py; SOURCES.md). The reference is the harness's own grading,
called here directly on its own TestSpec; trajscope's verdict comes from the row loaded as a
task (JSON-text test lists, text versions) and graded by engine.verification."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest

pytest.importorskip("swebench", reason="the SWE-bench harness is a test extra")

from trajscope.engine.tasks import load_swebench  # noqa: E402
from trajscope.engine.verification import VerifyResult, grade_harness_log  # noqa: E402

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "swebench-harness"
CASES = [json.loads(line) for line in (HERE / "cases.jsonl").read_text().splitlines()]
ROWS = {
    json.loads(line)["instance_id"]: json.loads(line) for line in (HERE / "instances.jsonl").read_text().splitlines()
}


def harness_report(row: dict, log_path: Path, patch: str) -> dict:
    """get_eval_report on make_test_spec, the harness's own way (its environment script, which
    downloads requirement files, is not needed for grading and is left empty)."""
    from swebench.harness.grading import get_eval_report
    from swebench.harness.test_spec.test_spec import make_test_spec

    with (
        mock.patch("swebench.harness.test_spec.python.get_requirements", return_value=""),
        mock.patch("swebench.harness.test_spec.python.get_environment_yml", return_value=""),
    ):
        spec = make_test_spec(row)
    prediction = {"instance_id": row["instance_id"], "model_name_or_path": "parity", "model_patch": patch}
    return get_eval_report(spec, prediction, str(log_path), include_tests_status=True)[row["instance_id"]]


def trajscope_result(case: dict) -> VerifyResult:
    task = load_swebench(HERE / "instances.jsonl", case["instance_id"])[0]
    result = VerifyResult(task.instance_id, patch_applied=True)
    result.log = (HERE / case["log"]).read_text()
    grade_harness_log(task, task.row, result, case["model_patch"])
    return result


@pytest.mark.parametrize("case", CASES, ids=[f"{c['instance_id']}.{c['case']}" for c in CASES])
def test_verdict_and_every_test_status_equal_the_harnesss(case):
    row = ROWS[case["instance_id"]]
    reference = harness_report(row, HERE / case["log"], case["model_patch"])
    ours = trajscope_result(case)
    assert ours.resolved == reference["resolved"]
    assert ours.patch_applied and reference["patch_successfully_applied"]
    for key, tests in (("FAIL_TO_PASS", ours.fail_to_pass), ("PASS_TO_PASS", ours.pass_to_pass)):
        status = reference["tests_status"][key]
        assert sorted(t for t, ok in tests.items() if ok) == sorted(status["success"])
        assert sorted(t for t, ok in tests.items() if not ok) == sorted(status["failure"])
    listed = json.loads(row["FAIL_TO_PASS"]) + json.loads(row["PASS_TO_PASS"])
    counted = {
        t
        for key in ("FAIL_TO_PASS", "PASS_TO_PASS")
        for side in ("success", "failure")
        for t in reference["tests_status"][key][side]
    }
    assert sorted(ours.skipped) == sorted(t for t in listed if t not in counted)
    # the submitted event's field says the same
    verified = ours.verified()
    assert verified["resolved"] == reference["resolved"] and verified["grader"] == "swebench harness"


def test_the_logs_cover_four_parsers_and_both_verdicts():
    from swebench.harness.log_parsers import MAP_REPO_TO_PARSER

    parsers = {MAP_REPO_TO_PARSER[row["repo"]].__name__ for row in ROWS.values()}
    assert {"parse_log_django", "parse_log_sympy", "parse_log_pytest", "parse_log_pytest_options"} <= parsers
    by_case = {(c["instance_id"], c["case"]): trajscope_result(c).resolved for c in CASES}
    for instance in ROWS:
        assert by_case[(instance, "gold")] is True
        assert by_case[(instance, "none")] is False
        assert by_case[(instance, "wrong")] is False


def test_trap_a_skipped_pass_to_pass_test_is_counted_on_neither_side():
    """Django's gold run: a listed PASS_TO_PASS test is skipped on this platform; the Django
    parser records it as skipped and the harness keeps it out of the verdict, as trajscope does."""
    case = next(c for c in CASES if c["instance_id"].startswith("django") and c["case"] == "gold")
    skipped = (
        "test_get_valid_filename_platform_names (utils_tests.test_text.TestUtilsText"
        ".test_get_valid_filename_platform_names)"
    )
    assert f"{skipped} ... skipped" in (HERE / case["log"]).read_text()
    result = trajscope_result(case)
    assert result.resolved and result.skipped == [skipped]
    assert skipped not in result.verified()["failed"] and result.verified()["skipped"] == [skipped]


def test_trap_a_non_zero_exit_does_not_decide():
    """marshmallow's gold run: an unlisted test fails (pytest exits 1) and another is skipped;
    every listed test passes, so the instance is resolved, as the harness says."""
    case = next(c for c in CASES if c["instance_id"].startswith("marshmallow") and c["case"] == "gold")
    log = (HERE / case["log"]).read_text()
    assert "FAILED tests/test_utils.py::test_needs_a_network" in log and "SKIPPED [1]" in log
    assert trajscope_result(case).resolved


def test_trap_parametrised_ids_with_spaces_are_keyed_as_the_harness_reads_them():
    """requests: ids with spaces (`test["a b c"-a b c]`) are cut at the first space by the
    harness's parse, and SWE-bench's test lists hold them cut so; the gold run resolves on them."""
    row = ROWS["psf__requests-90103"]
    f2p = json.loads(row["FAIL_TO_PASS"])
    assert 'tests/test_utils.py::test_unquote_quoted_header_values["a' in f2p
    assert sum(t.count("[") > t.count("]") for t in f2p) == 2
    result = trajscope_result(next(c for c in CASES if c["instance_id"] == row["instance_id"] and c["case"] == "gold"))
    assert all(result.fail_to_pass[t] for t in f2p)


def test_a_swebench_row_without_the_harness_is_one_sentence(monkeypatch):
    from trajscope.engine import swebench
    from trajscope.engine.verification import verify

    monkeypatch.setattr(swebench, "available", lambda: False)
    task = load_swebench(HERE / "instances.jsonl", "django__django-90101")[0]
    result = verify(task, task.gold_patch, sandbox="local")
    assert result.verdict == "error" and "pip install 'trajscope[swebench]'" in result.error
    assert "\n" not in result.error


def as_task_repository(root: Path) -> Path:
    """The fixture rows in swebench 5.x's task-repository layout: each carries its own
    evaluation script and the name of its log parser, under a repository name the 4.1 spec
    tables do not know (so nothing but the row's own fields can grade it)."""
    from trajscope.engine import swebench
    from swebench.harness.log_parsers import MAP_REPO_TO_PARSER

    for row in ROWS.values():
        task = root / "tasks" / row["instance_id"]
        task.mkdir(parents=True)
        meta = {
            "instance_id": row["instance_id"],
            "repo": "acme/" + row["repo"].split("/")[1],
            "version": "1.0",
            "base_commit": row["base_commit"],
            "image": row["image"],
            "eval_type": "pass_and_fail",
            "log_parser": MAP_REPO_TO_PARSER[row["repo"]].__name__,
            "split": "test",
        }
        (task / "task.yaml").write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in meta.items()))
        (task / "tests.json").write_text(json.dumps({k: json.loads(row[k]) for k in ("FAIL_TO_PASS", "PASS_TO_PASS")}))
        (task / "eval.sh").write_text(swebench.eval_script(row))
        (task / "gold.patch").write_text(row["patch"])
        (task / "test.patch").write_text(row["test_patch"])
        (task / "problem_statement.md").write_text(row["problem_statement"])
    (root / "sweb.yaml").write_text("datasets: [parity]\n")
    return root


@pytest.mark.parametrize("case", CASES, ids=[f"{c['instance_id']}.{c['case']}" for c in CASES])
def test_rows_of_the_5x_shape_grade_as_the_classic_rows(case, tmp_path):
    from trajscope.engine import swebench
    from trajscope.engine.tasks import load_task

    repo = as_task_repository(tmp_path / "taskrepo")
    task = load_task(repo, case["instance_id"])
    assert swebench.carried(task.row) and task.row["repo"].startswith("acme/")
    assert task.image == ROWS[case["instance_id"]]["image"] and task.gold_patch == ROWS[case["instance_id"]]["patch"]
    result = VerifyResult(task.instance_id, patch_applied=True)
    result.log = (HERE / case["log"]).read_text()
    grade_harness_log(task, task.row, result, case["model_patch"])
    classic = trajscope_result(case)
    assert (result.resolved, result.fail_to_pass, result.pass_to_pass, result.skipped) == (
        classic.resolved,
        classic.fail_to_pass,
        classic.pass_to_pass,
        classic.skipped,
    )


def test_a_task_repository_without_an_instance_or_with_a_bad_one_is_one_sentence(tmp_path):
    from trajscope.engine.tasks import TaskError, load_task

    repo = as_task_repository(tmp_path / "taskrepo")
    with pytest.raises(TaskError, match="task repository with 4 tasks; name one with --instance"):
        load_task(repo)
    for bad in ("nope__nope-1", "../taskrepo", ".."):
        with pytest.raises(TaskError, match="has no task"):
            load_task(repo, bad)
    (repo / "tasks" / "django__django-90101" / "task.yaml").write_text("a: [unclosed\n")
    with pytest.raises(TaskError, match="is not a readable SWE-bench task"):
        load_task(repo, "django__django-90101")
