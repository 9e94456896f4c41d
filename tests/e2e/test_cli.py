"""The command line, run as a user runs it: a subprocess of the installed entry point."""

import json

import pytest

from trajscope.engine.formats.collection import find_runs
from tests.conftest import DEMO_RUN, REAL_FILES
from tests.support import independent_counts, trajscope

pytestmark = pytest.mark.subprocess


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_convert_then_stats_json(tmp_path, path):
    refs = find_runs(path)
    if refs[0].line is not None:  # a multi-run file: a folder of run logs, and stats of every run
        out = tmp_path / "runs"
        result = trajscope("convert", path, "-o", out)
        assert result.returncode == 0, result.stderr
        logs = sorted(out.glob("*.jsonl"))
        assert [p.stem for p in logs] == sorted(r.name.replace("/", "_") for r in refs)
        direct = json.loads(trajscope("stats", path, "--json").stdout)
        assert direct["summary"]["runs"] == len(refs) == direct["summary"]["read"]
        for ref, row in zip(refs, direct["runs"]):
            expected = independent_counts(path, ref.line)
            assert {k: row[k] for k in expected} == expected, ref.name
            stats = json.loads(trajscope("stats", out / f"{row['run']}.jsonl", "--json").stdout)
            assert {k: stats[k] for k in expected} == expected and stats["format"] == "runlog"
        return
    out = tmp_path / "run.jsonl"
    result = trajscope("convert", path, "-o", out)
    assert result.returncode == 0, result.stderr
    assert out.exists()
    stats = json.loads(trajscope("stats", out, "--json").stdout)
    direct = json.loads(trajscope("stats", path, "--json").stdout)
    expected = independent_counts(path)
    assert {k: stats[k] for k in expected} == expected
    assert stats["format"] == "runlog"
    assert {k: direct[k] for k in expected} == expected


def test_stats_table_and_json_on_the_demo_run():
    result = trajscope("stats", DEMO_RUN)
    assert result.returncode == 0 and "branch points" in result.stdout
    stats = json.loads(trajscope("stats", DEMO_RUN, "--json").stdout)
    assert stats["nodes"] == 15 and stats["submissions"] == 2 and stats["resolved"] == 1


BAD_INPUTS = [
    (b"", "is empty"),
    (b'{"trajectory": [{"action": "ls"', "truncated or invalid JSON"),
    (b'{"some": "other tool"}', "not a format trajscope knows"),
    (bytes(range(256)) * 4, "binary file"),
]
# `open` checks the cheap cases before the screen switches; the others fail inside the
# app's loader, which tests/functional/test_explorer.py covers.
CASES = [(c, m, cmd) for c, m in BAD_INPUTS for cmd in ("stats", "convert")] + [
    (c, m, "open") for c, m in BAD_INPUTS if m in ("is empty", "binary file")
]


@pytest.mark.parametrize("content,message,command", CASES)
def test_unreadable_input_is_one_sentence_and_exit_2(tmp_path, content, message, command):
    path = tmp_path / "input"
    path.write_bytes(content)
    extra = ["-o", tmp_path / "out.jsonl"] if command == "convert" else []
    result = trajscope(command, path, *extra)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_missing_file_and_directory(tmp_path):
    result = trajscope("stats", tmp_path / "nope.jsonl")
    assert result.returncode == 2 and "does not exist" in result.stderr
    result = trajscope("open", tmp_path)  # a folder is a batch of runs (the runs screen): this one has none
    assert result.returncode == 2 and "holds no trajectory or run log" in result.stderr


def test_damaged_lines_in_a_run_log_are_skipped_and_reported(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_bytes(DEMO_RUN.read_bytes() + b"{half a line\n\x00\x01garbage\n")
    stats = json.loads(trajscope("stats", path, "--json").stdout)
    assert stats["nodes"] == 15 and stats["skipped_lines"] == 2


@pytest.mark.parametrize("command", ["stats", "convert", "open"])
@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/urandom"])
def test_special_files_are_refused_at_once(tmp_path, command, special):
    import os

    path = special
    if special == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    extra = ["-o", tmp_path / "out.jsonl"] if command == "convert" else []
    result = trajscope(command, path, *extra, timeout=30)  # a hang or a memory blow-up fails here
    assert result.returncode == 2 and "not a regular file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_nul_byte_damages_one_line_wherever_it_is(tmp_path):
    lines = DEMO_RUN.read_bytes().splitlines(keepends=True)
    early, late = tmp_path / "early.jsonl", tmp_path / "late.jsonl"
    early.write_bytes(lines[0] + b"\x00\x01 damaged\n" + b"".join(lines[1:]))
    late.write_bytes(b"".join(lines) + b"\x00\x01 damaged\n")
    for path in (early, late):
        stats = json.loads(trajscope("stats", path, "--json").stdout)
        assert stats["nodes"] == 15 and stats["skipped_lines"] == 1


def test_convert_of_a_too_deep_file_is_one_line_and_leaves_nothing(tmp_path):
    path = tmp_path / "deep.json"
    path.write_bytes(b'{"trajectory": ' + b"[" * 150_000 + b"]" * 150_000 + b"}")
    out = tmp_path / "out.jsonl"
    result = trajscope("convert", path, "-o", out)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    "document",
    [
        {
            "history": [
                {"id": 1, "source": "user", "action": "message", "message": "fix it"},  # OpenHands, no agent step
                {"id": 2, "source": "environment", "observation": "recall", "content": "", "cause": 1},
            ]
        },
        {"trajectory": [], "info": {}},
        {"messages": [{"role": "system", "content": "x"}], "info": {}},
        {"root": {"role": "system", "content": "x", "children": []}},
    ],
)
def test_a_file_with_nothing_to_import_says_so_instead_of_an_empty_tree(tmp_path, document):
    path = tmp_path / "other.json"
    path.write_text(json.dumps(document))
    for command in ("stats", "convert"):
        extra = ["-o", tmp_path / "out.jsonl"] if command == "convert" else []
        result = trajscope(command, path, *extra)
        assert result.returncode == 2 and "holds no step to import" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_version_is_the_installed_one():
    from importlib.metadata import version

    result = trajscope("--version")
    assert result.returncode == 0 and result.stdout == f"trajscope {version('trajscope')}\n", result
