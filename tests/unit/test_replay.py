"""Replaying real imported trajectories in the local sandbox: each format's tools, states at
several depths, the recorded patch rebuilt, divergences found at the right step, snapshots
reused, and recorded actions kept inside the sandbox (architecture section 2, "Replay")."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from trajscope.engine.formats import load
from trajscope.engine.replay import Replayer, ReplayDiverged, ReplayError, normalise, normalise_patch
from trajscope.engine.sandbox.local import LocalSandbox
from trajscope.engine.tasks import load_task
from trajscope.engine.tree import Tree

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REAL, TASKS = FIXTURES / "real", FIXTURES / "replay"


def _tree(path: Path, wrong: dict[str, str] | None = None, wrong_code: dict[str, int] | None = None) -> Tree:
    events = copy.deepcopy(load(path).events)
    for event in events:  # a deliberately wrong record: the observation or exit code of one step changed
        if wrong and event["type"] == "node_executed" and event["id"] in wrong:
            event["observation"] = wrong[event["id"]]
        if wrong_code and event["type"] == "node_executed" and event["id"] in wrong_code:
            event["exit_code"] = wrong_code[event["id"]]
    return Tree.fold(events)


@pytest.fixture
def replayer():
    boxes = []

    def make(run: Path, repo: Path, wrong: dict[str, str] | None = None) -> Replayer:
        box = LocalSandbox(repo)
        boxes.append(box)
        return Replayer(_tree(run, wrong), box, timeout=30)

    yield make
    for box in boxes:
        box.close()


@pytest.mark.parametrize("name", ["toolcall_submitted", "textbased_submitted"])
def test_mini_swe_agent_2x_replays_to_each_depth_and_rebuilds_the_recorded_patch(replayer, name):
    r = replayer(REAL / "mini-swe-agent" / f"{name}.traj.json", TASKS / "calc" / "repo")
    assert r.rebuild("2").replayed == 2
    assert "return a - b" in r.box.read("calc.py")  # before the sed of step 3
    assert r.rebuild("3").divergence is None and "return a + b" in r.box.read("calc.py")
    done = r.rebuild("5")
    assert done.divergence is None and done.restored_from in ("2", "3")
    assert normalise_patch(r.box.diff()) == normalise_patch(r.tree.nodes["5"].patch)
    again = r.rebuild("5")  # a second branch from the same step: restored, nothing replayed
    assert again.replayed == 0 and again.ref == done.ref


def test_mini_swe_agent_1x_reports_the_first_divergence_and_goes_on_when_asked(replayer):
    r = replayer(REAL / "mini-swe-agent" / "github_issue.traj.json", TASKS / "swe-agent-test-repo" / "repo")
    assert r.rebuild("1").divergence is None  # the same "No such file" from the same wrong path
    with pytest.raises(ReplayDiverged, match=r"from step 2 \(ls -la\)") as caught:
        r.rebuild("10")
    assert caught.value.divergence.node == "2"
    whole = r.rebuild("10", go_on=True)
    assert whole.divergence.step == 2
    assert "raise ValueError" in r.box.read("tests/missing_colon.py")
    assert normalise_patch(r.box.diff()) == normalise_patch(r.tree.nodes["10"].patch)


def test_swe_agent_windowed_tools_replay_and_a_wrong_record_is_caught_at_its_step(replayer):
    run, repo = REAL / "swe-agent" / "function_calling_simple.traj", TASKS / "swe-agent-test-repo" / "repo"
    r = replayer(run, repo)
    assert r.rebuild("2").skipped == ["1", "2"]  # find_file and open change nothing
    assert "-> float:" in (r.rebuild("3"), r.box.read("tests/missing_colon.py"))[1]
    r.rebuild("5")
    assert normalise_patch(r.box.diff()) == normalise_patch(r.tree.nodes["5"].patch)
    wrong = replayer(run, repo, wrong={"4": "9.9\n"})
    assert wrong.rebuild("3").divergence is None
    with pytest.raises(ReplayDiverged, match=r"from step 4 \(python tests/missing_colon.py\).*'9.9'.*'8.2'"):
        wrong.rebuild("5")


def test_dars_tree_replays_create_and_append_and_names_the_step_it_cannot(replayer, tmp_path):
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "README").write_text("an astropy checkout stands here in the record\n")
    r = replayer(REAL / "dars" / "none.prev.root", tmp_path / "repo")
    r.rebuild("4")
    assert r.box.read("test_fits_replace.py") == "\n"
    r.rebuild("5")
    text = r.box.read("test_fits_replace.py")
    # what SWE-agent's own window showed of the file after the append (step 11 opens it)
    shown = [line.split(":", 1)[1] for line in r.tree.nodes["11"].observation.splitlines()[1:15]]
    assert text.splitlines() == shown
    with pytest.raises(ReplayError, match=r"step 9 \(edit .*cannot be replayed: .*fitsrec.py does not exist"):
        r.rebuild("9")


@pytest.mark.parametrize("depth", ["n3", pytest.param("n6", marks=pytest.mark.slow)])
def test_trajscope_run_log_replays_its_own_tools(depth):
    # n3: view, a python run with a traceback, view; n6: past a test run, a search and
    # trajscope's str_replace (slow: the recorded test run takes seconds)
    tree = _tree(TASKS / "duration-ms-unit.run.jsonl")
    box = load_task("duration-ms-unit").open_sandbox("local")
    try:
        assert Replayer(tree, box, timeout=60).rebuild(depth).divergence is None
        assert normalise_patch(box.diff()) == normalise_patch(tree.patch_at(depth))
    finally:
        box.close()


def test_rebuilding_from_the_recorded_patch(replayer):
    r = replayer(REAL / "swe-agent" / "function_calling_simple.traj", TASKS / "swe-agent-test-repo" / "repo")
    rebuilt = r.from_patch("5")
    assert rebuilt.from_patch and "-> float:" in r.box.read("tests/missing_colon.py")
    with pytest.raises(ReplayError, match="records no patch at step 3"):
        r.from_patch("3")


def test_an_unknown_tool_is_named_with_the_offer_of_the_patch(replayer):
    events = load(REAL / "openhands" / "basic.json").events
    assert [e["action"]["tool"] for e in events if e["type"] == "node_added"][0] == "str_replace_editor"
    r = replayer(REAL / "openhands" / "basic.json", TASKS / "calc" / "repo")
    with pytest.raises(ReplayError, match=r"step 1 \(.*\) cannot be replayed: the file does not record"):
        r.rebuild("1")


HOSTILE = [
    ("str_replace_editor", {"command": "create", "path": "/etc/cron.d/owned", "file_text": "x"}),
    ("str_replace_editor", {"command": "create", "path": "/testbed/../../../tmp/escaped", "file_text": "x"}),
    ("create", {"command": "create /SWE-agent__repo/../../tmp/escaped"}),
]


@pytest.mark.parametrize("tool,args", HOSTILE)
def test_recorded_paths_out_of_the_repository_are_refused(replayer, tool, args):
    r = replayer(REAL / "swe-agent" / "function_calling_simple.traj", TASKS / "swe-agent-test-repo" / "repo")
    node = r.tree.nodes["1"]
    node.action = {"tool": tool, "args": args, "raw": tool}
    node.observation = "ok"
    with pytest.raises(ReplayError, match="step 1 .*cannot be replayed: .*outside"):
        r.rebuild("1")
    assert not Path("/tmp/escaped").exists() and not Path("/etc/cron.d/owned").exists()


def test_recorded_bash_runs_confined(replayer, tmp_path):
    sentinel = tmp_path / "host-file"
    sentinel.write_text("still here")
    r = replayer(REAL / "mini-swe-agent" / "toolcall_submitted.traj.json", TASKS / "calc" / "repo")
    assert r.box.isolated  # bubblewrap confines it: nothing below runs unconfined
    node = r.tree.nodes["1"]
    node.action = {"tool": "bash", "args": {"command": f"rm -rf {tmp_path}; cat {sentinel}; echo done"}, "raw": ""}
    r.rebuild("1", go_on=True)
    assert sentinel.read_text() == "still here"


def test_normalising_takes_out_times_ids_and_paths():
    a = "ran at 2024-07-17T01:31:02.123Z in 0.52s <obj at 0x7f3a> /tmp/pytest-12/x.py /testbed/a.py\r\n"
    b = "ran at 2026-12-07 12:00:00 in 1.5s <obj at 0x55aa> /tmp/other/y.py /workspace/a.py\n"
    assert normalise(a) == normalise(b)
    assert normalise("/repo/x") == normalise("/testbed/x") and normalise("/x/repo/y") != normalise("/testbed/y")


def test_windowed_and_editor_tools_change_files_as_their_agents_do(tmp_path):
    from trajscope.engine.formats.replay_tools import Cursor, Unreplayable, apply

    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "f.py").write_text("a\nb\nc\nd\n")
    box, cursor = LocalSandbox(tmp_path / "repo"), Cursor()
    try:

        def run(tool: str, recorded: str = "ok", **args) -> None:
            apply({"tool": tool, "args": args, "raw": args.get("command", tool)}, recorded, box, cursor, 30)

        run("open", command="open f.py 3")
        run("edit", command="edit 2:3\nB\nC2\nC3\nend_of_edit")  # SWE-agent's classic form: lines 2 to 3
        assert box.read("f.py") == "a\nB\nC2\nC3\nd\n"
        run(
            "edit",
            recorded="Your proposed edit has introduced new syntax error(s).",
            command="edit 1:1\nx\nend_of_edit",
        )
        assert box.read("f.py").startswith("a\n")  # the record says SWE-agent refused it: not made
        run("create", command="create new.py")
        run("append", command="append\nline one\nend_of_append")  # fills create's empty line
        assert box.read("new.py") == "line one\n"
        run("insert", command="insert $'zero\\n' 0")
        assert box.read("new.py") == "zero\nline one\n"
        run("str_replace_editor", command="insert", path="/testbed/f.py", insert_line=1, new_str="after a")
        run("str_replace_editor", command="str_replace", path="/testbed/f.py", old_str="d\n", new_str="D\n")
        assert box.read("f.py") == "a\nafter a\nB\nC2\nC3\nD\n"
        run("str_replace_editor", command="undo_edit", path="/testbed/f.py")
        assert box.read("f.py").endswith("C3\nd\n")
        with pytest.raises(Unreplayable, match="occurs 0 times"):
            run("str_replace_editor", command="str_replace", path="f.py", old_str="nowhere", new_str="x")
    finally:
        box.close()


def test_a_wrong_recorded_exit_code_is_the_divergence_at_its_step(tmp_path):
    tree = _tree(REAL / "mini-swe-agent" / "toolcall_submitted.traj.json", wrong_code={"2": 1})
    box = LocalSandbox(TASKS / "calc" / "repo")
    try:
        with pytest.raises(ReplayDiverged, match=r"exit code differs .* at step 2 .*recorded 1, replayed 0"):
            Replayer(tree, box, timeout=30).rebuild("4")
    finally:
        box.close()
