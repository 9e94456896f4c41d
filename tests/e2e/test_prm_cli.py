"""`trajscope prm collect` and `prm train` as a user runs them (small, on one task)."""

from __future__ import annotations

import json

import pytest

from trajscope.engine.prm import data
from tests.conftest import DEMO_TASKS
from tests.support import trajscope

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]


def test_collect_runs_rollouts_and_writes_labelled_steps(tmp_path):
    dataset = tmp_path / "steps.jsonl.gz"
    proc = trajscope(
        "prm",
        "collect",
        "--tasks",
        DEMO_TASKS[0],
        DEMO_TASKS[1],
        "--demo-seeds",
        "2",
        "--fake-seeds",
        "1",
        "--wrong-rates",
        "0.5",
        "--out",
        tmp_path / "runs",
        "--dataset",
        dataset,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["runs"] == 6 and summary["steps"] > 12
    examples = data.load(dataset)
    assert len(examples) == summary["steps"]
    assert {e.context.task_id for e in examples} == {"demo__csvsniff-44", "demo__humandur-23"}
    assert all(0 <= e.label <= 1 and e.context.issue for e in examples)
    assert sum(e.final for e in examples) == 6
    assert len(list((tmp_path / "runs" / "fake-0.5").glob("*.jsonl"))) == 2

    weights = tmp_path / "w.pt"
    proc = trajscope(
        "prm", "train", "--dataset", dataset, "--weights", weights, "--epochs", "1", "--held-out", "1", timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert len(report["held_out_tasks"]) == 1
    # both outcomes among the held-out steps, so an AUROC measures something (one class gives 0.5)
    assert 0 < report["builtin"]["positive"] < report["builtin"]["steps"] == report["test_steps"]
    assert report["shipped"]["auroc"] > 0.7  # the shipped weights rank this task's steps (0.79 here)
    assert weights.stat().st_size > 1_000_000 and "held-out AUROC" in proc.stderr


def test_prm_train_from_ones_own_runs_and_imported_trajectories(tmp_path):
    import json as _json

    from trajscope.demo_data import RUNS
    from trajscope.engine.prm.model import BuiltinScorer

    weights = tmp_path / "mine.pt"
    proc = trajscope(
        "prm",
        "train",
        "--from",
        RUNS,
        "tests/fixtures/real",
        "--with-bundled",
        "--finetune",
        "--epochs",
        "1",
        "--weights",
        weights,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    report = _json.loads(proc.stdout)
    assert report["runs"]["used"] >= 1 and report["runs"]["skipped_no_label"] >= 1
    assert report["runs"]["runs"] == sum(report["runs"][k] for k in ("used", "skipped_no_label", "unreadable"))
    for name in ("builtin", "shipped", "heuristic"):  # the new weights against the shipped ones and the heuristic
        assert report[name]["steps"] == report["test_steps"]
    # on ~600 held-out steps each beats chance (here 0.74, 0.74 and 0.59), and one epoch of
    # fine-tuning keeps the shipped weights' ranking
    assert report["heuristic"]["auroc"] > 0.55 and report["shipped"]["auroc"] > 0.7
    assert report["builtin"]["auroc"] > report["shipped"]["auroc"] - 0.05
    scorer = BuiltinScorer(device="cpu", weights=weights)
    assert scorer.meta["init"] and scorer.meta["held_out_tasks"] == report["held_out_tasks"]
    # runs that say nothing about outcomes teach nothing: one sentence
    empty = trajscope("prm", "train", "--from", "tests/fixtures/real/swe-agent", "--weights", tmp_path / "x.pt")
    assert empty.returncode == 2 and "none of these runs has a verdict" in empty.stderr
