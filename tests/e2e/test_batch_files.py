"""A batch's own files against its tasks' names and links planted in its folder, through the
real command (docs/security.md, "Files trajscope writes")."""

from __future__ import annotations

import json
import shutil

import pytest

from trajscope.engine.events import read_events
from tests.conftest import DEMO_TASKS
from tests.support import trajscope

pytestmark = pytest.mark.subprocess


def test_a_batch_with_a_task_named_summary_keeps_its_run_log_and_its_summary(tmp_path):
    """The task's log and the batch's own summary.jsonl used to be one file; a link at
    summary.jsonl.tmp had its target overwritten and summary.jsonl turned into a link to it."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    task = tmp_path / "summary"  # the run takes the folder's name
    shutil.copytree(next(p for p in DEMO_TASKS if p.name == "semver-prerelease"), task)
    spec = json.loads((task / "task.json").read_text())
    (task / "task.json").write_text(json.dumps(spec | {"instance_id": "summary"}))
    out = tmp_path / "batch"
    out.mkdir()
    (out / "summary.jsonl.tmp").symlink_to(victim)
    proc = trajscope(
        "batch",
        task,
        "--out",
        out,
        "--headless",
        "--sandbox",
        "local",
        "--prm",
        "heuristic",
        "--strategy",
        "sample",
        "--samples",
        "1",
        "--max-nodes",
        "2",
        timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "the run log of 'summary' is summary-task.jsonl" in proc.stderr
    rows = [json.loads(line) for line in (out / "summary.jsonl").read_text().splitlines()]
    assert [r["instance_id"] for r in rows] == ["summary"] and rows[0]["log"].endswith("summary-task.jsonl")
    assert rows[0]["run"] == "summary-task"
    assert read_events(out / "summary-task.jsonl")[0]["type"] == "run_started"
    assert victim.read_text() == "precious\n" and not (out / "summary.jsonl").is_symlink()
