"""Bundled task names work wherever a task is asked for, and `evaluate` grades each prediction
against its own instance (issue 31, items 2.1 and 2.2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from trajscope.engine.tasks import TaskError, bundled_tasks, load_task, load_tasks, task_path
from trajscope.tui.cli import main

DURATION = "duration-ms-unit"
SEMVER = "semver-prerelease"


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A working directory with no task in it: a name can only be the bundled one."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def instance(name: str) -> str:
    return load_task(bundled_tasks()[name]).instance_id


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", DURATION, "--gold", "--sandbox", "local", "--json"],
        ["run", DURATION, "--headless", "--max-steps", "1", "--sandbox", "local", "--out", "r.jsonl"],
        [
            "search",
            DURATION,
            "--headless",
            "--max-nodes",
            "2",
            "--strategy",
            "linear",
            "--prm",
            "heuristic",
            "--sandbox",
            "local",
            "--out",
            "s.jsonl",
        ],
    ],
    ids=["verify", "run", "search"],
)
def test_a_bundled_task_name_works_outside_demo(elsewhere, capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    assert "does not exist" not in captured.err and code in (0, 1), captured.err
    out = json.loads(captured.out)
    assert out["instance_id"] == instance(DURATION)


def test_batch_takes_bundled_names_and_the_folder_of_them(elsewhere):
    from trajscope.tui.cli.batch import task_specs

    specs = task_specs([DURATION, SEMVER], None, {})
    assert [(s["name"], Path(s["task"])) for s in specs] == [
        (instance(DURATION), bundled_tasks()[DURATION]),
        (instance(SEMVER), bundled_tasks()[SEMVER]),
    ]
    every = task_specs(["bundled"], None, {})
    assert {s["name"] for s in every} == {instance(n) for n in bundled_tasks()}


def test_a_path_that_exists_wins_over_a_bundled_name(elsewhere):
    mine = elsewhere / DURATION
    shutil.copytree(bundled_tasks()[SEMVER], mine)
    assert task_path(DURATION) == Path(DURATION)
    assert load_task(DURATION).instance_id == instance(SEMVER)


def test_an_unknown_name_is_one_sentence_naming_the_tasks_command(elsewhere, capsys):
    assert main(["verify", "no-such-task", "--gold"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no bundled task has that name (`trajscope tasks` lists them)" in err


def test_tasks_lists_every_bundled_task_with_its_repo_summary_and_path(capsys):
    assert main(["tasks", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["name"] for r in rows] == sorted(bundled_tasks())
    for row in rows:
        task = load_task(row["path"])  # the path it prints is one a person can use
        assert row["repo"] == task.repo and row["summary"] and row["summary"] in task.problem_statement
        assert "\n" not in row["summary"]
    assert main(["tasks"]) == 0
    table = capsys.readouterr().out
    assert all(name in table for name in bundled_tasks())


def test_a_task_directory_named_with_another_instance_is_refused():
    with pytest.raises(TaskError, match=f"is the task {instance(DURATION)}, not {instance(SEMVER)}"):
        load_task(bundled_tasks()[DURATION], instance(SEMVER))


def test_task_json_is_its_directory_with_the_code_beside_it():
    task = load_task(bundled_tasks()[DURATION] / "task.json")
    assert task.repo_dir == bundled_tasks()[DURATION] / "repo"  # not "only in a Docker image"


def test_load_tasks_reads_a_folder_of_tasks(tmp_path):
    for name in (DURATION, SEMVER):
        shutil.copytree(bundled_tasks()[name], tmp_path / name)
    (tmp_path / "notes").mkdir()  # not a task: passed over
    assert [t.instance_id for t in load_tasks(tmp_path)] == [instance(DURATION), instance(SEMVER)]
    with pytest.raises(TaskError, match="holds no task"):
        load_tasks(tmp_path / "notes")


# -- evaluate -------------------------------------------------------------------------------


@pytest.fixture
def graded(monkeypatch):
    """Grading with the tests stood in: the instance each patch was graded against, and its
    verdict (the gold patch of that instance resolves, anything else does not)."""
    from trajscope.engine import verification

    calls: list[tuple[str, str]] = []

    def verify(task, patch, sandbox="docker", timeout=0.0, **options):
        calls.append((task.instance_id, patch))
        resolved = patch == task.gold_patch
        return verification.VerifyResult(task, resolved, {"t": resolved}, log="")

    monkeypatch.setattr(verification, "verify", verify)
    return calls


def evaluate(tmp_path, capsys, predictions: dict[str, str], *dataset: str) -> tuple[int, str, dict]:
    preds = tmp_path / "predictions.jsonl"
    preds.write_text(
        "".join(
            json.dumps({"instance_id": i, "model_name_or_path": "m", "model_patch": p}) + "\n"
            for i, p in predictions.items()
        )
    )
    code = main(
        [
            "evaluate",
            str(preds),
            "--dataset",
            *dataset,
            "--out",
            str(tmp_path / "ev"),
            "--run-id",
            "r",
            "--sandbox",
            "local",
        ]
    )
    captured = capsys.readouterr()  # the table on stdout, the totals and refusals on stderr
    err = captured.out + captured.err
    return code, err, json.loads((tmp_path / "ev" / "m.r.json").read_text()) if code != 2 else {}


def gold(name: str) -> str:
    return load_task(bundled_tasks()[name]).gold_patch


def test_a_prediction_for_another_instance_is_not_graded_against_the_one_task(tmp_path, capsys, graded):
    code, err, summary = evaluate(tmp_path, capsys, {instance(SEMVER): gold(SEMVER)}, str(bundled_tasks()[DURATION]))
    assert graded == [] and summary["error_ids"] == [instance(SEMVER)], err
    assert f"1 prediction(s) not graded, for instances no --dataset holds: '{instance(SEMVER)}'" in err
    assert code == 3


@pytest.mark.parametrize(
    "dataset",
    [
        [str(bundled_tasks()[DURATION]), str(bundled_tasks()[SEMVER])],  # several task directories
        [str(bundled_tasks()[DURATION].parent)],  # the folder of them
        ["bundled"],
        [DURATION, SEMVER],  # the names a batch of bundled tasks came from
    ],
    ids=["directories", "folder", "bundled", "names"],
)
def test_a_batch_of_bundled_tasks_is_graded_against_each_task(tmp_path, capsys, graded, dataset, elsewhere):
    predictions = {instance(DURATION): gold(DURATION), instance(SEMVER): gold(SEMVER)}
    code, err, summary = evaluate(tmp_path, capsys, predictions, *dataset)
    assert sorted(graded) == sorted(predictions.items()), err
    assert summary["resolved_ids"] == sorted(predictions) and code == 0


@pytest.mark.parametrize(
    "patches, status",
    [
        ({DURATION: "gold", SEMVER: "gold"}, 0),  # all graded, all resolved
        ({DURATION: "gold", SEMVER: "wrong"}, 1),  # all graded, one unresolved
        ({DURATION: "gold", SEMVER: ""}, 1),  # an empty patch is graded as the harness does: not resolved
        ({DURATION: "gold", "nobody__nothing-1": "wrong"}, 3),  # one could not be graded
    ],
    ids=["resolved", "unresolved", "empty", "not-graded"],
)
def test_the_exit_status_says_what_happened(tmp_path, capsys, graded, patches, status):
    wrong = "--- a/x\n+++ b/x\n"
    predictions = {
        (instance(n) if n in bundled_tasks() else n): (gold(n) if p == "gold" else wrong if p else "")
        for n, p in patches.items()
    }
    code, err, _ = evaluate(tmp_path, capsys, predictions, "bundled")
    assert code == status, err


def test_the_exit_statuses_are_in_the_help_and_the_readme(capsys):
    from trajscope.tui.cli.evaluate import EXIT_CODES

    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    assert " ".join(EXIT_CODES.split()) in " ".join(capsys.readouterr().out.split())
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    assert "0 every prediction was graded and resolved" in readme and "3 some prediction could not be graded" in readme


def test_evaluate_grades_a_task_json_with_its_code_beside_it(tmp_path, capsys):
    """The real grader in the local sandbox: a task.json given as the dataset is its directory."""
    code, err, summary = evaluate(
        tmp_path, capsys, {instance(DURATION): gold(DURATION)}, str(bundled_tasks()[DURATION] / "task.json")
    )
    assert "only in a Docker image" not in err and code == 0, err
    assert summary["resolved_ids"] == [instance(DURATION)]
