"""Every file trajscope writes goes through engine/files.py: names from untrusted fields, links
planted at a target name, FIFOs, a second writer on a run log, and inputs left as they were
(docs/security.md, "Files trajscope writes"). Each test plays the attack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trajscope.engine.files import (
    NAME_LIMIT,
    Folder,
    LogBusy,
    WriteError,
    check_target,
    create_unique,
    open_append,
    replace_file,
    safe_name,
    write_new,
)


@pytest.fixture
def victim(tmp_path):
    """A file outside the folder being written, which a planted link points at."""
    target = tmp_path / "victim.txt"
    target.write_text("precious\n")
    return target


def unchanged(victim: Path) -> bool:
    return victim.read_text() == "precious\n"


# -- names -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field",
    [
        "../../x",
        "/abs/dir",
        "..",
        ".",
        ".hidden",
        "a\x00b",
        "a\nb\x1b[31m",
        "a/b",
        "x" * 5000,
        "é" * 5000,
        "",
        "\ud800",
        "-rf",
        "a\\b",
        "con\u2028sole",
    ],
)
def test_a_name_from_a_field_is_one_plain_bounded_component(field):
    name = safe_name(field)
    assert name and "/" not in name and "\x00" not in name and not name.startswith((".", "-"))
    assert ".." not in name and all(c.isprintable() for c in name)
    assert len(name.encode()) <= NAME_LIMIT
    name.encode()  # no lone surrogate: a real file name


def test_names_stay_readable_and_distinct():
    assert safe_name("django__django-11099") == "django__django-11099"  # the common case untouched
    assert safe_name("openai__gpt-4o") == "openai__gpt-4o"
    assert safe_name("a/b") != safe_name("a_b") and safe_name("a/b").startswith("a_b-")
    long_a, long_b = safe_name("x" * 300 + "a"), safe_name("x" * 300 + "b")
    assert long_a != long_b and len(long_a.encode()) <= NAME_LIMIT


def test_a_folder_refuses_a_name_that_is_not_one_component(tmp_path):
    with Folder(tmp_path / "out") as folder:
        for bad in ("../x", "/etc/passwd", "..", "", "a\x00b"):
            with pytest.raises(WriteError):
                folder.create(bad, b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# -- links and other non-regular files ---------------------------------------------------
def test_a_new_file_is_never_written_through_a_link(tmp_path, victim):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.patch").symlink_to(victim)
    (tmp_path / "out" / "b.patch").symlink_to(tmp_path / "missing")  # dangling
    for name in ("a.patch", "b.patch"):
        with pytest.raises(WriteError, match="symbolic link"):
            write_new(tmp_path / "out" / name, b"evil")
    assert unchanged(victim) and not (tmp_path / "missing").exists()


def test_appending_refuses_a_link_even_a_dangling_one_and_a_fifo(tmp_path, victim):
    (tmp_path / "live.jsonl").symlink_to(victim)
    (tmp_path / "dangling.jsonl").symlink_to(tmp_path / "created-through-the-link")
    os.mkfifo(tmp_path / "fifo.jsonl")
    (tmp_path / "dir.jsonl").mkdir()
    for name in ("live.jsonl", "dangling.jsonl", "fifo.jsonl", "dir.jsonl"):
        with pytest.raises(WriteError):
            open_append(tmp_path / name)
    assert unchanged(victim) and not (tmp_path / "created-through-the-link").exists()


def test_replacing_refuses_a_link_a_folder_and_a_fifo_and_leaves_no_temporary(tmp_path, victim):
    (tmp_path / "summary.jsonl").symlink_to(victim)
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    for name in ("summary.jsonl", "folder", "fifo"):
        with pytest.raises(WriteError, match="regular files"):
            replace_file(tmp_path / name, b"new")
    assert unchanged(victim) and (tmp_path / "summary.jsonl").is_symlink()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_planted_temporary_name_is_not_used(tmp_path, victim):
    """The old writers used ``<name>.tmp``: a link there had its target overwritten and the
    result renamed over the real name. Temporaries now have random names, made O_EXCL."""
    (tmp_path / "summary.jsonl.tmp").symlink_to(victim)
    replace_file(tmp_path / "summary.jsonl", b"rows\n")
    assert unchanged(victim) and (tmp_path / "summary.jsonl").read_bytes() == b"rows\n"
    assert not (tmp_path / "summary.jsonl").is_symlink()


def test_replace_is_atomic_and_keeps_nothing_on_failure(tmp_path):
    from trajscope.engine.files import replacing

    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), replacing(target) as fh:
        fh.write(b"half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["report.json"]


def test_check_target(tmp_path, victim):
    (tmp_path / "l").symlink_to(victim)
    assert check_target(tmp_path / "free") == tmp_path / "free"
    with pytest.raises(WriteError, match="symbolic link"):
        check_target(tmp_path / "l")


def test_a_sub_folder_that_is_a_link_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "logs").symlink_to(elsewhere)
    with Folder(tmp_path / "out") as folder, pytest.raises(WriteError, match="symbolic link"):
        folder.folder("logs")
    assert not list(elsewhere.iterdir())


# -- unique names and locks --------------------------------------------------------------
def test_unique_names_are_taken_once(tmp_path):
    first, second = create_unique(tmp_path / "run.jsonl"), create_unique(tmp_path / "run.jsonl")
    assert (first.name, second.name) == ("run.jsonl", "run-2.jsonl")
    (tmp_path / "x.jsonl").symlink_to(tmp_path / "nowhere")  # a taken name, even dangling
    assert create_unique(tmp_path / "x.jsonl").name == "x-2.jsonl" and not (tmp_path / "nowhere").exists()


@pytest.mark.subprocess
def test_a_locked_file_refuses_a_second_writer_here_and_in_another_process(tmp_path):
    path = tmp_path / "run.jsonl"
    with open_append(path, lock=True):
        with pytest.raises(LogBusy, match="another writer in this process"):
            open_append(path, lock=True)
        code = (
            "import sys; from engine.files import open_append, LogBusy\n"
            "try:\n    open_append(sys.argv[1], lock=True)\nexcept LogBusy as e:\n    print(e); sys.exit(3)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert proc.returncode == 3 and f"being written by process {os.getpid()};" in proc.stdout, proc.stderr
    with open_append(path, lock=True):  # released with the writer
        pass


def test_errors_are_one_sentence(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(WriteError) as caught:
        write_new(tmp_path / "file" / "x.patch", b"x")
    assert str(caught.value).count("\n") == 0 and "not a directory" in str(caught.value)
    json.dumps(str(caught.value))


# -- evaluate: names from predictions, duplicates, patches over the limit ------------------
@pytest.fixture
def graded(monkeypatch):
    """Grading without a sandbox: every patch resolves (the attacks here are in the fields that
    name files, not in the tests); the instances graded, in order."""
    from trajscope.engine import evaluation, verification

    calls: list[str] = []

    def verify(task, patch, sandbox="docker", timeout=0.0, **options):
        calls.append(task)
        return verification.VerifyResult(task, True, {"test_a": True}, log="1 passed\n")

    class EveryInstance:  # the dataset holds whatever is predicted; the instance stands for its task
        def get(self, instance_id):
            return instance_id

    monkeypatch.setattr(evaluation, "dataset_tasks", lambda datasets: EveryInstance())
    monkeypatch.setattr(verification, "verify", verify)
    return calls


def evaluate_cli(tmp_path, rows: list[dict], capsys, *extra: str) -> tuple[int, str, Path]:
    from trajscope.tui.cli import main

    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "deep" / "evaluation"
    code = main(["evaluate", str(preds), "--dataset", str(preds), "--out", str(out), "--run-id", "r1", *extra])
    return code, capsys.readouterr().err, out


def written_outside(tmp_path: Path, out: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if not p.is_relative_to(out) and p.name not in ("preds.jsonl", "deep")]


def test_evaluate_keeps_hostile_instance_ids_inside_out(tmp_path, capsys, graded):
    # six levels up from a model's folder is tmp_path: the old writer put a report there
    hostile = ["../../../../../../escaped", str(tmp_path / "absolute"), "..", ".", "x" * 300]
    rows = [{"instance_id": i, "model_name_or_path": "org/model", "model_patch": "diff"} for i in hostile]
    code, err, out = evaluate_cli(tmp_path, rows, capsys)
    assert code == 0, err
    assert written_outside(tmp_path, out) == []
    reports = sorted(out.glob("logs/run_evaluation/r1/org__model/*/report.json"))
    assert len(reports) == len(hostile)
    assert {next(iter(json.loads(r.read_text()))) for r in reports} == set(hostile)  # the ids, as given
    summary = json.loads((out / "org__model.r1.json").read_text())
    assert summary["resolved_instances"] == len(hostile) and sorted(summary["resolved_ids"]) == sorted(hostile)


def test_evaluate_with_a_nul_or_a_5000_character_model_name_writes_its_summary(tmp_path, capsys, graded):
    rows = [
        {"instance_id": "a", "model_name_or_path": "bad\x00model", "model_patch": "diff"},
        {"instance_id": "b", "model_name_or_path": "m" * 5000, "model_patch": "diff"},
        {"instance_id": "c\x00d", "model_name_or_path": "bad\x00model", "model_patch": "diff"},
    ]
    code, err, out = evaluate_cli(tmp_path, rows, capsys)
    assert code == 0 and "Traceback" not in err, err
    [summary] = out.glob("*.r1.json")
    assert summary.name.startswith("bad_model-") and json.loads(summary.read_text())["resolved_instances"] == 3
    folders = sorted(p.name for p in (out / "logs/run_evaluation/r1").iterdir())
    assert len(folders) == 2 and all(len(f.encode()) <= 150 for f in folders)  # each prediction's own model
    assert (out / "logs/run_evaluation/r1" / folders[0] / "a").is_dir() or (
        out / "logs/run_evaluation/r1" / folders[1] / "a"
    ).is_dir()


def test_evaluate_grades_an_instance_predicted_twice_once(tmp_path, capsys, graded):
    rows = [
        {"instance_id": "x", "model_name_or_path": "m", "model_patch": "first"},
        {"instance_id": "y", "model_name_or_path": "m", "model_patch": "diff"},
        {"instance_id": "x", "model_name_or_path": "m", "model_patch": "last"},
    ]
    code, err, out = evaluate_cli(tmp_path, rows, capsys)
    assert code == 0 and graded == ["x", "y"]
    assert "1 instance(s) predicted more than once ('x')" in err
    summary = json.loads((out / "m.r1.json").read_text())
    assert summary["total_instances"] == 2 and summary["resolved_ids"] == ["x", "y"]


def test_evaluate_refuses_a_patch_over_the_limit_before_grading(tmp_path, capsys, graded, monkeypatch):
    from trajscope.engine.sandbox import local

    monkeypatch.setattr(local, "PATCH_LIMIT", 1000)
    rows = [
        {"instance_id": "big", "model_name_or_path": "m", "model_patch": "+" * 5000},
        {"instance_id": "small", "model_name_or_path": "m", "model_patch": "diff"},
    ]
    code, err, out = evaluate_cli(tmp_path, rows, capsys)
    assert code == 3 and graded == ["small"]  # one prediction not graded
    assert "'big' is not graded" in err and err.count("not graded") == 1
    summary = json.loads((out / "m.r1.json").read_text())
    assert summary["error_ids"] == ["big"] and summary["resolved_ids"] == ["small"]


@pytest.mark.parametrize("planted", ["m/x", "m/x/report.json", "m.r1.json"])
def test_evaluate_refuses_a_name_it_cannot_write_before_grading_anything(tmp_path, capsys, graded, planted):
    """A link planted at an instance's folder, a report or the summary: refused in one sentence
    before the first grade (it used to grade everything, then stop with nothing summed up)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "deep" / "evaluation"
    at = (out / "m.r1.json") if planted == "m.r1.json" else out / "logs/run_evaluation/r1" / planted
    at.parent.mkdir(parents=True)
    at.symlink_to(elsewhere / "victim")
    rows = [{"instance_id": i, "model_name_or_path": "m", "model_patch": "diff"} for i in ("w", "x", "y")]
    code, err, out = evaluate_cli(tmp_path, rows, capsys)
    assert code == 2 and graded == [], err
    assert err.count("trajscope:") == 1 and f"{at} is a symbolic link" in err, err
    assert list(elsewhere.iterdir()) == []


def test_evaluate_writes_its_summary_when_a_report_fails_after_grading(tmp_path, capsys, graded, monkeypatch):
    """A folder swapped for a link while the tests run, and the summary's name taken: the report
    of that instance is not written, the grades of all are kept (a new summary name)."""
    from trajscope.engine import verification

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    grade = verification.verify
    runs = tmp_path / "deep/evaluation/logs/run_evaluation/r1/m"

    def swap_then_grade(task, patch, **options):
        if task == "x":  # made and checked before grading; changed now
            if (runs / "x").is_dir():
                (runs / "x").rmdir()
            (runs / "x").symlink_to(elsewhere)
            (runs.parents[3] / "m.r1.json").symlink_to(elsewhere / "summary")
        return grade(task, patch, **options)

    monkeypatch.setattr(verification, "verify", swap_then_grade)
    rows = [{"instance_id": i, "model_name_or_path": "m", "model_patch": "diff"} for i in ("w", "x", "y")]
    code, err, out = evaluate_cli(tmp_path, rows, capsys, "--workers", "1")
    assert code == 3 and graded == ["w", "x", "y"] and "Traceback" not in err, err  # a report not written
    assert "not written: the report of 'x'" in err and "written to m.r1-2.json instead" in err, err
    summary = json.loads((out / "m.r1-2.json").read_text())
    assert summary["resolved_ids"] == ["w", "x", "y"]
    assert (runs / "y" / "report.json").is_file() and list(elsewhere.iterdir()) == []


def test_a_jsonl_line_over_the_limit_is_never_held_in_memory(tmp_path):
    import tracemalloc

    from trajscope.engine.evaluation import read_predictions

    preds = tmp_path / "preds.jsonl"
    with preds.open("w") as fh:
        fh.write(json.dumps({"instance_id": "ok", "model_name_or_path": "m", "model_patch": "diff"}) + "\n")
        fh.write(json.dumps({"model_patch": "+" * (40 << 20), "instance_id": "huge", "model_name_or_path": "m/x"}))
        fh.write("\n" + json.dumps({"instance_id": "after", "model_patch": "diff"}) + "\n")
    tracemalloc.start()
    try:
        got = read_predictions(preds, limit=1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(p.instance_id, p.model, bool(p.refused)) for p in got] == [
        ("ok", "m", False),
        ("huge", "m/x", True),
        ("after", "model", False),
    ]
    assert peak < 12 << 20, f"peak {peak:,} bytes for a 40 MiB line"


# -- prm score never writes its input ------------------------------------------------------
@pytest.mark.parametrize("fixture", ["swe-agent/function_calling_simple.traj", "dars/none.prev.root", "run log"])
def test_prm_score_leaves_its_input_byte_identical_and_writes_a_new_log(tmp_path, capsys, fixture):
    import shutil

    from trajscope.engine.events import read_events
    from trajscope.engine.tree import Tree
    from tests.conftest import DEMO_RUN, REAL
    from trajscope.tui.cli import main

    source = DEMO_RUN if fixture == "run log" else REAL / fixture
    given = tmp_path / source.name
    shutil.copy(source, given)
    before = given.read_bytes()
    assert main(["prm", "score", str(given), "--prm", "heuristic"]) == 0
    out, err = capsys.readouterr()
    assert given.read_bytes() == before  # no byte added, not even a newline
    counts = json.loads(out)
    written = Path(counts["log"])
    assert written.parent == tmp_path and written != given and str(written) in err and counts["scored"] > 0
    tree = Tree.fold(read_events(written))  # an ordinary run log, the converted trajectory and its scores
    assert sum(1 for n in tree.nodes.values() if "heuristic" in n.scores) == counts["scored"]
    assert main(["prm", "score", str(given), "--prm", "heuristic"]) == 0  # again: a second new log
    assert json.loads(capsys.readouterr().out)["log"] != counts["log"] and given.read_bytes() == before


def test_prm_score_refuses_to_write_its_input_or_through_a_link(tmp_path, capsys, victim):
    import shutil

    from tests.conftest import DEMO_RUN
    from trajscope.tui.cli import main

    given = tmp_path / "run.jsonl"
    shutil.copy(DEMO_RUN, given)
    before = given.read_bytes()
    (tmp_path / "link.jsonl").symlink_to(victim)
    for out, why in (
        (given, "is the input"),
        (tmp_path / "link.jsonl", "symbolic link"),
        (tmp_path / "." / "run.jsonl", "is the input"),
    ):
        assert main(["prm", "score", str(given), "--prm", "heuristic", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert why in err and err.count("\n") == 1, err
    assert given.read_bytes() == before and unchanged(victim)


# -- exports ------------------------------------------------------------------------------
def test_export_and_analyze_never_write_through_a_link_or_over_their_input(tmp_path, capsys, victim):
    import shutil

    from tests.conftest import DEMO_RUN
    from trajscope.tui.cli import main

    run = tmp_path / "run.jsonl"
    shutil.copy(DEMO_RUN, run)
    before = run.read_bytes()
    (tmp_path / "out.patch").symlink_to(victim)
    (tmp_path / "report.html").symlink_to(victim)
    commands = [
        (["export", str(run), "-f", "patch", "-o", str(tmp_path / "out.patch")], "symbolic link"),
        (["export", str(run), "-f", "sft", "-o", str(run)], "is the input"),
        (["analyze", str(run), "--html", str(tmp_path / "report.html")], "symbolic link"),
        (["analyze", str(run), "--html", str(run)], "one of the inputs"),
    ]
    for argv, why in commands:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert why in err and err.count("\n") == 1, err
    assert unchanged(victim) and run.read_bytes() == before
    assert main(["export", str(run), "-f", "patch", "-o", str(tmp_path / "fix.patch")]) == 0
    assert (tmp_path / "fix.patch").read_text().startswith("diff --git")


# -- batches: names, the folder's lock, the batch's own files ------------------------------
def test_task_ids_never_take_the_batch_files_or_each_others_names():
    from trajscope.engine.batch.folder import log_names

    ids = ["summary", "predictions", "Summary", "a/b", "a_b", "x", "x", "../../etc/passwd"]
    names, renamed = log_names(ids)
    folded = [n.casefold() for n in names]
    assert len(set(folded)) == len(ids) and not {"summary.jsonl", "predictions.jsonl"} & set(folded)
    assert all("/" not in n and not n.startswith(".") for n in names)
    assert ("summary", "summary-task.jsonl") in renamed and ("x", "x_.jsonl") in renamed
    assert names[ids.index("a_b")] == "a_b.jsonl"  # an id that needs nothing keeps its name


def test_a_second_batch_into_the_same_folder_is_refused(tmp_path):
    from trajscope.engine.batch.executors import LocalExecutor
    from trajscope.engine.batch.fleet import Fleet
    from trajscope.engine.batch import BatchError

    spec = {"name": "t", "task": "t", "instance": None, "search": {}}
    first = Fleet([spec], LocalExecutor(1), tmp_path / "out", 1)
    try:
        with pytest.raises(BatchError, match="folder of a batch still running"):
            Fleet([spec], LocalExecutor(1), tmp_path / "out", 1, resume=True)
    finally:
        first.close()
    Fleet([spec], LocalExecutor(1), tmp_path / "out", 1).close()  # free again once the first is done


def test_a_batch_refuses_a_link_planted_at_a_run_log(tmp_path, victim):
    from trajscope.engine.batch.executors import LocalExecutor
    from trajscope.engine.batch.fleet import Fleet
    from trajscope.engine.batch import BatchError

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "t.jsonl").symlink_to(tmp_path / "dangling")
    with pytest.raises(BatchError, match="symbolic link"):
        Fleet([{"name": "t", "task": "t", "instance": None, "search": {}}], LocalExecutor(1), tmp_path / "out", 1)
    assert not (tmp_path / "dangling").exists()


# -- run logs: links, a second writer, unique default names --------------------------------
def test_a_run_log_is_never_opened_through_a_dangling_link(tmp_path, capsys):
    from trajscope.engine.events import RunLog
    from tests.conftest import DEMO_TASKS
    from trajscope.tui.cli import main

    (tmp_path / "run.jsonl").symlink_to(tmp_path / "made-through-the-link.jsonl")
    with pytest.raises(WriteError, match="symbolic link"):
        RunLog(tmp_path / "run.jsonl")
    task = str(next(p for p in DEMO_TASKS if p.name == "semver-prerelease"))
    assert main(["run", task, "--out", str(tmp_path / "run.jsonl"), "--headless", "--sandbox", "local"]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("trajscope:")]
    assert len(errors) == 1 and "symbolic link" in errors[0] and "Traceback" not in err, err
    assert not (tmp_path / "made-through-the-link.jsonl").exists()


@pytest.mark.parametrize("command", [["demo"], ["search", "--resume", "--strategy", "sample"]])
def test_a_second_writer_on_a_run_log_is_refused_in_one_sentence(tmp_path, capsys, command):
    from trajscope.engine.events import RunLog
    from tests.conftest import DEMO_TASKS
    from trajscope.tui.cli import main

    log = tmp_path / "run.jsonl"
    task = str(next(p for p in DEMO_TASKS if p.name == "semver-prerelease"))
    with RunLog(log):  # the first writer, still running
        code = main(
            [
                command[0],
                task,
                *command[1:],
                "--out",
                str(log),
                "--headless",
                "--sandbox",
                "local",
                "--prm",
                "heuristic",
            ]
        )
        err = capsys.readouterr().err
    assert code == 2 and f"{log} is being written by another writer in this process" in err, err
    assert err.count("trajscope:") == 1 and log.read_bytes() == b""


def test_default_run_log_names_are_unique_within_a_second(tmp_path, monkeypatch):
    from trajscope.tui.cli.common import default_out

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("time.strftime", lambda fmt, *a: "20260101-000000")  # the same second, always
    first, second = default_out("demo/../x"), default_out("demo/../x")
    assert first != second and first.exists() and second.exists() and first.parent == second.parent == Path("runs")
    assert "/" not in first.name and ".." not in first.name


def test_predictions_read_from_every_format_with_the_limit(tmp_path):
    from trajscope.engine.evaluation import read_predictions

    rows = [
        {"instance_id": "a", "model_name_or_path": "m", "model_patch": "+" * 2000},
        {"instance_id": "b", "model_name_or_path": "m", "model_patch": "diff"},
    ]
    shapes = {
        "list.json": json.dumps(rows),
        "keyed.json": json.dumps({r["instance_id"]: r for r in rows}),
        "pretty.json": json.dumps({r["instance_id"]: r for r in rows}, indent=2),
        "one.json": json.dumps(rows[1]),
        "lines.jsonl": "".join(json.dumps(r) + "\n" for r in rows),
    }
    for name, text in shapes.items():
        (tmp_path / name).write_text(text)
        got = [(p.instance_id, bool(p.refused)) for p in read_predictions(tmp_path / name, limit=1000)]
        assert got == ([("b", False)] if name == "one.json" else [("a", True), ("b", False)]), name
