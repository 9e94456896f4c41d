"""A folder's views account for every file found: a run (a row, which says why when it cannot be
read) or a reason it is not one; a run that cannot be read is never counted as unresolved."""

import json
import os
import shutil

from trajscope.engine.formats.collection import find_runs
from tests.conftest import REAL


def _folder(tmp_path):
    root = tmp_path / "runs"
    (root / "deep").mkdir(parents=True)
    shutil.copy(REAL / "swe-agent" / "function_calling_simple.traj", root / "simple.traj")
    # a mini-swe-agent run saved as .json: its "messages" come after a long config
    shutil.copy(REAL / "mini-swe-agent" / "toolcall_submitted.traj.json", root / "deep" / "mini.json")
    (root / "broken.traj").write_text('{"trajectory": [')  # a run that cannot be read: a row that says why
    os.mkfifo(root / "pipe.traj")
    os.symlink(REAL / "dars" / "edit.prev.root", root / "linked.root")
    (root / "settings.json").write_text('{"theme": "dark"}')
    (root / "notes.txt").write_text("what I tried")
    return root


def test_every_file_found_is_a_run_or_a_reason(tmp_path):
    root = _folder(tmp_path)
    refs = find_runs(root)
    found = {os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names}
    listed = {str(r.path) for r in refs} | {str(p) for p, _ in refs.skipped}
    assert listed == found
    assert sorted(r.path.name for r in refs) == ["broken.traj", "mini.json", "simple.traj"]
    why = {p.name: reason for p, reason in refs.skipped}
    assert "link" in why["linked.root"] and "not a regular file" in why["pipe.traj"]
    assert "names no trajectory" in why["settings.json"] and "by its name" in why["notes.txt"]


def test_stats_convert_and_analyze_say_what_they_left_out(tmp_path, capsys, monkeypatch):
    from trajscope.tui.cli import main

    # The reports wrap at 80 columns here, and a path longer than that is cut mid-name (under
    # pytest-xdist tmp_path holds a popen-gwN folder more, and is): the folder is named short.
    monkeypatch.chdir(tmp_path)
    root = _folder(tmp_path).relative_to(tmp_path)
    assert main(["stats", str(root)]) == 0
    out = capsys.readouterr().out
    assert "broken.traj" in out and "pipe.traj" in out and "linked.root" in out and "notes.txt" in out
    assert "/2 " in out.split("any resolved ")[1][:6]  # two runs read; the unreadable one is not in the total
    assert main(["stats", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["read"] == 2 and report["summary"]["failed_to_read"] == 1
    assert report["summary"]["not_runs"] == 4 == len(report["not_runs"])
    assert main(["convert", str(root), "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "broken.traj" in err and "settings.json" in err and "pipe.traj" in err
    assert main(["analyze", str(root)]) == 0
    out = capsys.readouterr().out
    assert "not read:" in out and "broken.traj" in out and "not a run:" in out and "notes.txt" in out
