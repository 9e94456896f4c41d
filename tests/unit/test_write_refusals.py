"""What a command refuses to write, and says so before it starts: an append to a file that is
not a run log, a batch whose own files cannot be written, a folder a batch holds, an export
with nothing in it, and messages that name only the options a command has (docs/security.md,
"Files trajscope writes"). Every refusal is one sentence and writes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO_RUN, DEMO_TASKS

TASK = str(next(p for p in DEMO_TASKS if p.name == "semver-prerelease"))
REPO = Path(__file__).resolve().parents[2]


def one_sentence(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("trajscope:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- appending only to a run log -----------------------------------------------------------
@pytest.mark.parametrize(
    "content",
    [b"secret\n", b"secret", b'{"type": "node_added", "id": "1"}\n', b"[1]\n", b"\n", b'{"type": "run_started"'],
)
def test_search_resume_refuses_a_file_that_is_not_a_run_log(tmp_path, capsys, content):
    from trajscope.tui.cli import main

    victim = tmp_path / "victim"
    victim.write_bytes(content)
    code = main(
        [
            "search",
            TASK,
            "--headless",
            "--max-nodes",
            "3",
            "--strategy",
            "sample",
            "--out",
            str(victim),
            "--resume",
            "--sandbox",
            "local",
            "--prm",
            "heuristic",
        ]
    )
    assert code == 2 and "is not a trajscope run log" in one_sentence(capsys.readouterr().err)
    assert victim.read_bytes() == content


def test_a_run_log_reopens_for_appending_and_nothing_else_does(tmp_path):
    from trajscope.engine.events import RunLog, make_event
    from trajscope.engine.files import WriteError

    log = tmp_path / "run.jsonl"
    with RunLog(log) as writer:
        writer.append(make_event("run_started", "r", task={"instance_id": "t"}, config={}))
    with RunLog(log) as writer:  # its own log: goes on
        writer.append(make_event("node_added", "r", id="1", parent=None))
    assert len(log.read_bytes().splitlines()) == 2
    notes = tmp_path / "notes.json"
    notes.write_bytes(b'{"type": "run_started_not", "run": "x"}\n')
    with pytest.raises(WriteError, match="not a trajscope run log"):
        RunLog(notes)
    assert notes.read_bytes() == b'{"type": "run_started_not", "run": "x"}\n'


def test_a_batch_resumed_onto_a_file_that_is_not_a_run_log_is_refused(tmp_path):
    from trajscope.engine.batch.executors import LocalExecutor
    from trajscope.engine.batch.fleet import Fleet
    from trajscope.engine.batch import BatchError

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "t.jsonl").write_bytes(b"secret\n")
    with pytest.raises(BatchError, match="t.jsonl is not a trajscope run log"):
        Fleet(
            [{"name": "t", "task": "t", "instance": None, "search": {}}],
            LocalExecutor(1),
            tmp_path / "out",
            1,
            resume=True,
        )
    assert (tmp_path / "out" / "t.jsonl").read_bytes() == b"secret\n"


# -- messages name only what the command has -----------------------------------------------
@pytest.mark.parametrize("command", ["demo", "search", "run"])
def test_an_existing_log_or_a_folder_at_out_is_named_for_what_it_is(tmp_path, capsys, command):
    from trajscope.tui.cli import main

    log = tmp_path / "old.jsonl"
    log.write_bytes(DEMO_RUN.read_bytes())
    task = [] if command == "demo" else [TASK]
    for out, said in ((log, "already exists; choose another --out"), (tmp_path, "is a directory")):
        code = main([command, *task, "--out", str(out), "--headless", "--sandbox", "docker"])
        sentence = one_sentence(capsys.readouterr().err)
        assert code == 2 and f"{out} {said}" in sentence, sentence
        assert ("--resume" in sentence) == (command == "search" and out == log), sentence
    assert log.read_bytes() == DEMO_RUN.read_bytes()


# -- a batch's own files, checked before any search ----------------------------------------
@pytest.mark.parametrize("planted", ["link", "fifo"])
def test_a_batch_refuses_its_own_files_before_any_search_starts(tmp_path, capsys, planted):
    from trajscope.tui.cli import main

    out = tmp_path / "batch"
    out.mkdir()
    victim = tmp_path / "victim"
    if planted == "link":
        (out / "summary.jsonl").symlink_to(victim)
    else:
        os.mkfifo(out / "predictions.jsonl")
    code = main(["batch", TASK, "--out", str(out), "--headless", "--sandbox", "docker", "--max-nodes", "2"])
    sentence = one_sentence(capsys.readouterr().err)
    name = "summary.jsonl is a symbolic link" if planted == "link" else "predictions.jsonl is not a regular file"
    assert code == 2 and name in sentence, sentence
    assert sorted(p.name for p in out.iterdir()) == [("summary.jsonl" if planted == "link" else "predictions.jsonl")]
    assert not victim.exists()


@pytest.mark.subprocess
def test_a_busy_batch_folder_is_named_in_one_plain_sentence(tmp_path):
    from trajscope.engine.batch.executors import LocalExecutor
    from trajscope.engine.batch.fleet import Fleet
    from trajscope.engine.batch import BatchError

    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
            str(out),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(BatchError) as caught:
            Fleet([{"name": "t", "task": "t", "instance": None, "search": {}}], LocalExecutor(1), out, 1)
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert str(caught.value) == (
        f"{out} is the folder of a batch still running as process {holder.pid}; "
        "wait for it to end or choose another --out"
    )


# -- an export with nothing in it ----------------------------------------------------------
def run_export(*args):
    return subprocess.run(
        [sys.executable, "-m", "trajscope.tui.cli", "export", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


@pytest.mark.subprocess
def test_an_export_with_no_record_writes_nothing_and_says_so_once(tmp_path):
    out = tmp_path / "dagger.jsonl"
    done = run_export(DEMO_RUN, "--format", "dagger", "-o", out)  # no teacher, no edit: no record
    sentence = one_sentence(done.stderr)
    assert done.returncode == 1 and "no dagger record" in sentence and "nothing written" in sentence, done.stderr
    assert "written to" not in done.stderr and not out.exists()
    done = run_export(DEMO_RUN, "--format", "dagger")
    assert done.returncode == 1 and done.stdout == ""
    runs = tmp_path / "runs"
    runs.mkdir()
    for name in ("a.jsonl", "b.jsonl"):
        (runs / name).write_bytes(DEMO_RUN.read_bytes())
    done = run_export(runs, "--format", "dagger", "-o", out)
    assert done.returncode == 1 and "0 dagger record(s)" in one_sentence(done.stderr) and not out.exists()
