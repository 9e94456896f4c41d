"""`trajscope analyze` run as a user runs it: the report on screen, as HTML and as JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import DEMO_RUN, REAL, ROOT as REPO

pytestmark = pytest.mark.subprocess


def test_cli_analyze_prints_writes_html_and_json(tmp_path):
    report = tmp_path / "report.html"
    cmd = [sys.executable, "-m", "trajscope.tui.cli", "analyze", str(DEMO_RUN), str(REAL), "--html", str(report)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "rubric flags (detectors)" in done.stdout and "overconfidence" in done.stdout
    page = report.read_text()
    assert "<svg" in page and "Failure clusters" in page and "github_issue.traj.json" in page
    data = json.loads(subprocess.run(cmd[:-2] + ["--json"], capture_output=True, text=True, cwd=REPO).stdout)
    assert data["trajectories"]["resolved"] >= 1 and set(data["flags"]) >= {"memory_drift", "planning"}
    bad = subprocess.run(
        [sys.executable, "-m", "trajscope.tui.cli", "analyze", str(tmp_path / "missing.jsonl")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
