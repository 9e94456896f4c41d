"""`trajscope verify` and `trajscope sandbox`, run as a user runs them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import DEMO_TASKS, docker_or_skip
from tests.support import trajscope

pytestmark = pytest.mark.subprocess

TASK = DEMO_TASKS[0]


def test_verify_gold_resolves_and_base_does_not():
    gold = trajscope("verify", TASK, "--gold")
    assert gold.returncode == 0, gold.stderr
    assert "RESOLVED" in gold.stdout and "FAIL_TO_PASS" in gold.stdout
    base = trajscope("verify", TASK, "--json")
    assert base.returncode == 1
    report = json.loads(base.stdout)
    assert report["resolved"] is False and report["patch_applied"] is True
    assert report["FAIL_TO_PASS"]["success"] == [] and report["FAIL_TO_PASS"]["failure"]


def test_verify_patch_file_and_stdin(tmp_path):
    patch = tmp_path / "fix.diff"
    shutil.copy(TASK / "gold.patch", patch)
    assert trajscope("verify", TASK, "--patch", patch, "--json").returncode == 0
    piped = subprocess.run(
        [sys.executable, "-m", "trajscope.tui.cli", "verify", str(TASK), "--patch", "-", "--json"],
        input=patch.read_text(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.returncode == 0 and json.loads(piped.stdout)["resolved"]


def test_patch_that_does_not_apply_is_one_line(tmp_path):
    patch = tmp_path / "bad.diff"
    patch.write_text("--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-a\n+b\n")
    result = trajscope("verify", TASK, "--patch", patch)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert [line for line in result.stdout.splitlines() if "does not apply" in line]


@pytest.mark.parametrize(
    "content,message",
    [
        ({"instance_id": "x", "problem_statement": "y"}, "lacks FAIL_TO_PASS, PASS_TO_PASS, test_patch"),
        (None, "no task.json"),
    ],
)
def test_bad_task_directory(tmp_path, content, message):
    (tmp_path / "repo").mkdir()
    if content is not None:
        (tmp_path / "task.json").write_text(json.dumps(content))
    result = trajscope("verify", tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_docker_daemon_is_one_line():
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock")
    result = subprocess.run(
        [sys.executable, "-m", "trajscope.tui.cli", "verify", str(TASK), "--sandbox", "docker"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("trajscope: Docker is not reachable") and "--sandbox local" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.docker
def test_missing_image_is_one_line(tmp_path):
    docker_or_skip()
    task = tmp_path / "task"
    shutil.copytree(TASK, task)
    spec = json.loads((task / "task.json").read_text())
    (task / "task.json").write_text(json.dumps(spec | {"image": "trajscope/no-such-image:0"}))
    result = trajscope("verify", task, "--sandbox", "docker")
    assert result.returncode == 2
    assert result.stderr.strip() == "trajscope: Docker image trajscope/no-such-image:0 is not there"


@pytest.mark.docker
def test_build_image_reuses_the_image():
    docker_or_skip()
    result = trajscope("sandbox", "build-image")
    assert result.returncode == 0 and "reusing it" in result.stderr


def test_sandbox_clean_removes_what_dead_runs_left_and_nothing_else(tmp_path):
    """A local sandbox's folder whose owner process is gone goes; a live run's folder, a folder
    of that name without an owner and a folder of another name stay."""
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no process has now
    folders = {name: tmp_path / name for name in ("trajscope-dead", "trajscope-live", "trajscope-notes", "other")}
    for name, folder in folders.items():
        (folder / "engine").mkdir(parents=True)
        (folder / "engine" / "store.pack").write_bytes(b"x" * 1000)
        if name != "trajscope-notes":
            (folder / "owner.pid").write_text(str(os.getpid() if name == "trajscope-live" else gone.pid))
    env = dict(os.environ, TMPDIR=str(tmp_path), DOCKER_HOST="unix:///nonexistent/docker.sock")
    result = trajscope("sandbox", "clean", env=env)
    assert result.returncode == 0, result.stderr
    said = re.fullmatch(r"removed (\d+) leftover sandbox(es)? \(Docker skipped: .+\)\n", result.stdout)
    assert said and int(said.group(1)) >= 1, result.stdout
    assert not folders["trajscope-dead"].exists()
    assert all(
        folders[name].joinpath("engine", "store.pack").is_file()
        for name in ("trajscope-live", "trajscope-notes", "other")
    )
