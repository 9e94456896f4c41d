"""A search that starts at a step of an imported run: the trunk as recorded, live branches
below the step, the model's conversation the imported history, the new log reopening with
both, a second branch restoring instead of replaying, and the command line's sentences
(architecture section 5, "From an imported run")."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from trajscope.engine.branching import prepare, resolve_step
from trajscope.engine.events import read_events
from trajscope.engine.formats import load
from trajscope.engine.policy.llm import LLMPolicy
from trajscope.engine.replay import ReplayDiverged, ReplayError
from trajscope.engine.search.budget import Budget
from trajscope.engine.search.config import SearchConfig
from trajscope.engine.session import Session
from trajscope.engine.tasks import load_task_dir
from trajscope.engine.tree import Tree
from tests.fake_llm import FakeLLM, reply

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RUN = FIXTURES / "real" / "mini-swe-agent" / "toolcall_submitted.traj.json"
CALC = FIXTURES / "replay" / "calc"  # no gold.patch: the demo policy cannot run on it
MODEL = ["--model", "openai/fake", "--api-base", "http://127.0.0.1:9"]  # never asked: refused before


def fixer(request: dict, index: int) -> dict:
    """Edits calc.py once, then submits."""
    if any("Edited calc.py" in str(m.get("content")) for m in request["messages"]):
        return reply("submit")
    return reply("str_replace", path="calc.py", old="return a - b", new="return a + b")


def test_a_search_from_an_imported_step_keeps_the_trunk_and_branches_live_below_it(tmp_path):
    task = load_task_dir(CALC)
    prefix = prepare(RUN, "2", task, "local")
    assert prefix.rebuilt.replayed == 2 and prefix.rebuilt.divergence is None
    with FakeLLM(fixer) as server:
        session = Session(
            task,
            LLMPolicy("openai/fake", api_base=server.url),
            tmp_path / "branch.jsonl",
            budget=Budget(nodes=20),
            config=SearchConfig(strategy="linear", max_depth=8),
            prefix=prefix,
        )
        session.start()
        session.wait(60)
        # a second branch from the same run: restored from the snapshot taken on the way
        again = prefix.replayer.rebuild("2")
        session.close()
    assert again.replayed == 0 and again.seconds < 1.0
    first = server.requests[0]["messages"]
    # the model continues the imported conversation as mini-swe-agent recorded it: its system
    # prompt, the task, and the two steps' tool calls and outputs, then trajscope's own steps
    recorded = json.loads(RUN.read_text())["messages"][:6]
    assert [(m["role"], m["content"]) for m in first[:6]] == [(m["role"], m["content"]) for m in recorded]
    assert first[2]["tool_calls"][0]["id"] == first[3]["tool_call_id"] == recorded[3]["tool_call_id"]
    assert "return a + b" in json.dumps(server.requests[-1]["messages"][6:])  # the live step, written by trajscope
    tree = Tree.fold(read_events(tmp_path / "branch.jsonl"))  # the new log reopens with both
    trunk = [n for n in tree.nodes.values() if n.proposer == "import"]
    assert len(trunk) == 5 and all(n.extra["imported"]["source"] == str(RUN) for n in trunk)
    assert tree.nodes["2"].observation == "-1\n"  # as recorded
    live = [n for n in tree.nodes.values() if n.proposer == "policy"]
    assert live and live[0].parent == "2"
    submitted = [n for n in live if n.kind == "submit"]
    assert submitted and submitted[0].resolved is True
    assert any(c.get("name") == "branch_from_import" for c in tree.commands)


def test_steps_are_named_by_id_or_by_number_along_the_path():
    tree = Tree.fold(load(RUN).events)
    assert resolve_step(tree, "3", RUN) == "3"
    with pytest.raises(ReplayError, match="has no step 9 .*1 to 5"):
        resolve_step(tree, "9", RUN)


def _wrong_run(tmp_path) -> Path:
    """RUN with step 2's recorded output changed: its replay diverges there."""
    wrong = json.loads(RUN.read_text())
    for message in wrong["messages"]:
        if message.get("role") == "tool" and "-1" in str(message.get("content")):
            message["content"] = message["content"].replace("-1", "-7")
            message.get("extra", {}).pop("raw_output", None)
    bad = tmp_path / "wrong.traj.json"
    bad.write_text(json.dumps(wrong))
    return bad


def test_a_divergence_stops_prepare_and_leaves_no_sandbox(tmp_path):
    bad = _wrong_run(tmp_path)
    with pytest.raises(ReplayDiverged, match="from step 2"):
        prepare(bad, "4", load_task_dir(CALC), "local")
    assert prepare(bad, "4", load_task_dir(CALC), "local", go_on=True).rebuilt.divergence.step == 2


@pytest.mark.parametrize(
    "argv,words",
    [
        (["--at", "2"], "--at needs --from RUN"),
        (["--from", str(RUN)], "--from needs --at STEP"),
        (["--from", str(RUN), "--at", "2", "--resume"], "--from starts a new search"),
        (["--from", "nowhere.traj", "--at", "2"], "nowhere.traj does not exist"),
        (["--from", str(RUN), "--at", "9", *MODEL], "has no step 9"),
        (["--from", str(RUN), "--at", "2"], "--model demo needs the task's reference fix (gold.patch)"),
        ([], "--model demo needs the task's reference fix (gold.patch) and calc-add has none"),
    ],
)
def test_the_command_line_says_what_is_wrong_in_one_sentence(tmp_path, capsys, argv, words):
    from trajscope.tui.cli import main

    code = main(["search", str(CALC), "--headless", "--sandbox", "local", "--out", str(tmp_path / "o.jsonl"), *argv])
    err = capsys.readouterr().err
    assert code != 0 and words in err and "Traceback" not in err
    assert not (tmp_path / "o.jsonl").exists()  # refused: no empty log left behind


def test_a_refused_branch_keeps_an_empty_file_that_was_there_before(tmp_path, capsys):
    from trajscope.tui.cli import main

    (tmp_path / "o.jsonl").touch()
    argv = ["search", str(CALC), "--headless", "--sandbox", "local", "--out", str(tmp_path / "o.jsonl")]
    assert main([*argv, "--from", str(RUN), "--at", "9", *MODEL]) != 0 and "has no step 9" in capsys.readouterr().err
    assert (tmp_path / "o.jsonl").exists()


def test_a_recorded_conversation_lines_up_with_the_steps_or_is_not_used():
    from trajscope.engine.formats.transcripts import transcript

    swe = FIXTURES / "real" / "swe-agent" / "marshmallow-1867.function_calling_replace.traj"
    recorded = transcript(json.loads(swe.read_text()), "swe-agent", 11)
    messages, steps = recorded.upto(3)
    assert steps == 3 and [m["role"] for m in messages] == ["system", "user"] + ["assistant", "tool"] * 3
    assert messages[3]["tool_call_id"] == messages[2]["tool_calls"][0]["id"]  # SWE-agent's tool_call_ids
    assert set().union(*messages) <= {"role", "content", "tool_calls", "tool_call_id", "name"}
    assert transcript(json.loads(swe.read_text()), "swe-agent", 10) is None  # not one turn a step: not used
    last, kept = transcript(json.loads(RUN.read_text()), "mini-swe-agent", 5).upto(5)
    assert kept == 4  # the submitting call has no answer in the record: a chat API would refuse it


def test_open_finds_the_run_s_instance_in_a_dataset(tmp_path):
    from trajscope.engine.errors import UserCausedError
    from trajscope.engine.tasks import TaskError
    from trajscope.tui.cli.open import branch_task

    rows = [
        {"instance_id": iid, "problem_statement": "p", "FAIL_TO_PASS": [], "PASS_TO_PASS": [], "test_patch": ""}
        for iid in ("other__repo-1", "marshmallow-code__marshmallow-1867")
    ]
    dataset = tmp_path / "dataset.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    swe = FIXTURES / "real" / "swe-agent" / "marshmallow-1867.function_calling_replace.traj"
    assert branch_task(swe, str(dataset), None).instance_id == "marshmallow-code__marshmallow-1867"
    assert branch_task(swe, str(dataset), "other__repo-1", any_task=True).instance_id == "other__repo-1"
    with pytest.raises(UserCausedError, match="is a run of marshmallow-code__marshmallow-1867, not of other__repo-1"):
        branch_task(swe, str(dataset), "other__repo-1")
    with pytest.raises(TaskError, match="has no instance toolcall_submitted"):
        branch_task(RUN, str(dataset), None)  # the run's instance (its file's name here) is not there


def test_a_step_that_cannot_be_replayed_refuses_that_job_only(tmp_path):
    from trajscope.engine.policy.demo import DemoPolicy

    (tmp_path / "task" / "repo").mkdir(parents=True)
    (tmp_path / "task" / "repo" / "README").write_text("astropy stood here\n")
    fields = {"instance_id": "astropy", "problem_statement": "p", "FAIL_TO_PASS": [], "PASS_TO_PASS": []}
    (tmp_path / "task" / "task.json").write_text(json.dumps({**fields, "test_patch": ""}))
    gold = "--- a/README\n+++ b/README\n@@ -1 +1 @@\n-astropy stood here\n+astropy stands here\n"
    (tmp_path / "task" / "gold.patch").write_text(gold)  # what the demo policy draws its steps from
    task = load_task_dir(tmp_path / "task")
    dars = FIXTURES / "real" / "dars" / "none.prev.root"
    session = Session(
        task,
        DemoPolicy(),
        tmp_path / "b.jsonl",
        config=SearchConfig(strategy="linear", max_depth=7),
        budget=Budget(nodes=3),
        prefix=prepare(dars, "5", task, "local"),  # create + append replay; step 9 edits a file not here
    )
    session.prefix.start_rollouts = False
    session.start()
    try:
        session.commands.resample("10")  # its parent is step 9: cannot be rebuilt
        session.commands.resample("6")  # its parent is step 5, rebuilt: the worker is still there
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            n.parent == "5" for n in session.tree.nodes.values() if n.proposer != "import"
        ):
            time.sleep(0.1)
    finally:
        session.close()
    refused = [c for c in session.tree.commands if c.get("name") == "replay_refused"]
    assert refused and "step 9" in refused[0]["text"] and "fitsrec.py does not exist" in refused[0]["text"]
    assert any(n.parent == "5" and n.proposer != "import" for n in session.tree.nodes.values())
    stuck = [n for n in session.tree.nodes.values() if n.parent == "9" and n.proposer != "import"]
    assert stuck and all(n.status == "failed" and "cannot be replayed" in n.status_reason for n in stuck)


def test_the_app_offers_the_recorded_patch_for_a_step_it_cannot_replay(tmp_path):
    from trajscope.engine.spec import SearchSpec
    from trajscope.tui.branch_launcher import BranchLauncher, BranchRefused

    data = json.loads((FIXTURES / "real" / "swe-agent" / "function_calling_simple.traj").read_text())
    data["history"][6]["tool_calls"][0]["function"]["name"] = "browse_web"  # a tool no replay knows
    run = tmp_path / "browsed.traj"
    run.write_text(json.dumps(data))
    spec = SearchSpec().updated({"model": "demo", "sandbox": "local", "prm": "heuristic"})
    launcher = BranchLauncher(
        run, load_task_dir(FIXTURES / "replay" / "swe-agent-test-repo"), spec, tmp_path / "b.jsonl"
    )
    with pytest.raises(BranchRefused, match=r"step 3 .*`browse_web`.*ask again here to rebuild it from that patch"):
        launcher.session_at("5")
    assert not (tmp_path / "b.jsonl").exists()  # nothing started, nothing left behind
    (tmp_path / "there.jsonl").touch()  # an empty file that was there before: kept
    there = BranchLauncher(run, launcher.task, spec, tmp_path / "there.jsonl", made=False)
    with pytest.raises(BranchRefused):
        there.session_at("5")
    assert (tmp_path / "there.jsonl").exists()
    try:
        session = launcher.session_at("5")  # asked again: the submission's recorded patch rebuilds it
        assert session.prefix.rebuilt.from_patch and "-> float:" in session.prefix.box.read("tests/missing_colon.py")
    finally:
        launcher.close()


def looker(request: dict, index: int) -> dict:
    """Looks at calc.py first, then fixes it as ``fixer`` does: its submission lies deeper."""
    if not any("cat calc.py" in json.dumps(m.get("tool_calls") or "") for m in request["messages"][6:]):
        return reply("bash", command="cat calc.py")
    return fixer(request, index)


def _branch(tmp_path, at="2", nodes=20, model=fixer, run=RUN, go_on=False, **config):
    """A search from step ``at`` of ``run`` on CALC, driven by ``model``, run to its end: the
    session (its model server's requests in ``session.requests``)."""
    task = load_task_dir(CALC)
    with FakeLLM(model) as server:
        session = Session(
            task,
            LLMPolicy("openai/fake", api_base=server.url),
            tmp_path / "branch.jsonl",
            budget=Budget(nodes=nodes),
            config=SearchConfig(**{"strategy": "linear", "max_depth": 8, **config}),
            prefix=prepare(run, at, task, "local", go_on=go_on),
        )
        session.start()
        session.wait(60)
        session.close()
    session.requests = server.requests
    return session


@pytest.fixture(scope="module")
def looked(tmp_path_factory):
    """One search from step 2 with ``looker`` under a node budget smaller than the 5-step trunk."""
    return _branch(tmp_path_factory.mktemp("looked"), nodes=4, model=looker)


def test_the_trunk_is_recorded_not_spent_from_the_node_budget(looked):
    live = [n for n in looked.tree.nodes.values() if n.proposer == "policy"]
    assert live and live[0].parent == "2" and len(live) <= 4
    assert looked.budget.used(looked.tree)["nodes"] == len(live)


def test_the_chosen_patch_has_the_verdict_a_live_twin_of_the_imported_submission_got(looked):
    import copy

    from trajscope.engine.launch import result_json
    from trajscope.engine.search.select import select_prm

    session = looked
    tree = session.tree
    twins = [n for n in tree.nodes.values() if n.proposer == "policy" and n.kind == "submit"]
    assert twins and twins[0].depth == tree.nodes["5"].depth and twins[0].resolved  # "5" ranks the pair
    result = result_json(session, 1.0)
    assert result["resolved"] is True and result["selected"] in ("5", twins[0].id)
    assert result["candidates"][0]["node"] == "5" and result["candidates"][0]["verdict_node"] in ("5", twins[0].id)
    # the run's own submission is verified too (a blank verdict read as "not resolved")
    assert tree.nodes["5"].verified is not None and tree.nodes["5"].resolved
    # which patch is chosen does not depend on the verdicts: the same without any
    chosen = tree.nodes[result["selected"]].patch
    tree = copy.deepcopy(tree)
    for node in tree.nodes.values():
        node.verified = None
    blind, _ = select_prm(tree)
    assert tree.nodes[blind].patch == chosen


def test_a_run_of_another_instance_is_refused_unless_asked_for(tmp_path, capsys):
    from trajscope.engine.branching import OtherTask
    from trajscope.tui.cli import main
    from trajscope.tui.cli.open import branch_task

    swe = FIXTURES / "real" / "swe-agent" / "marshmallow-1867.function_calling_replace.traj"
    words = "is a run of marshmallow-code__marshmallow-1867, not of calc-add; --any-task branches anyway"
    argv = ["search", str(CALC), "--headless", "--sandbox", "local", "--out", str(tmp_path / "o.jsonl"), *MODEL]
    assert main([*argv, "--from", str(swe), "--at", "2"]) == 2 and words in capsys.readouterr().err
    with pytest.raises(OtherTask, match=words):
        branch_task(swe, str(CALC), None)  # open --task
    assert branch_task(swe, str(CALC), None, any_task=True).instance_id == "calc-add"
    asked = prepare(swe, "1", load_task_dir(CALC), "local", any_task=True)  # asked for: it replays
    asked.box.close()
    assert asked.rebuilt.node == "1"
    assert branch_task(RUN, str(CALC), None).instance_id == "calc-add"  # its name is the file's: no instance named


def test_a_huge_recorded_output_is_cut_for_the_model_and_the_new_log(tmp_path):
    from trajscope.engine.sandbox.base import OUTPUT_CAP

    data = json.loads(RUN.read_text())
    tool = next(m for m in data["messages"] if m.get("role") == "tool")  # step 1's output
    tool["content"] += "x" * 200_000
    tool.get("extra", {}).pop("raw_output", None)
    big = tmp_path / "big.traj.json"
    big.write_text(json.dumps(data))
    session = _branch(tmp_path, run=big, go_on=True)  # the replayed output is short: it diverges
    assert session.requests and all(
        len(str(m.get("content"))) < OUTPUT_CAP + 200 for r in session.requests for m in r["messages"]
    )
    assert "whole output is in the imported run" in json.dumps(session.requests[0]["messages"])
    logged = Tree.fold(read_events(tmp_path / "branch.jsonl")).nodes["1"].observation
    assert len(logged) < OUTPUT_CAP + 200 and "characters omitted; the whole output is in the imported run" in logged


def test_dars_branches_only_below_the_chosen_step(tmp_path):
    session = _branch(tmp_path, nodes=4, strategy="dars", k=2)
    tree = session.tree
    imported = {n.id for n in tree.nodes.values() if n.proposer == "import"}
    live = [n for n in tree.nodes.values() if n.proposer == "policy"]
    assert any(n.extra.get("expanded_from") for n in live)  # DARS did expand
    assert all(n.parent == "2" or n.parent not in imported for n in live)  # never below steps 3-5
    assert not any(n.extra.get("expanded_from") in imported for n in live)  # nor beside an imported step


async def test_the_divergence_gone_on_despite_is_shown_on_its_step(tmp_path):
    from trajscope.engine.branching import divergence_at
    from trajscope.tui.app import TrajscopeApp
    from trajscope.tui.bridge import Source
    from trajscope.tui.widgets.node_detail import NodeDetail
    from tests.functional.helpers import static_text, wait_for

    task = load_task_dir(CALC)
    session = Session(
        task,
        LLMPolicy("openai/fake", api_base="http://127.0.0.1:9"),  # never asked: no rollout starts
        tmp_path / "b.jsonl",
        config=SearchConfig(strategy="linear", max_depth=8),
        prefix=prepare(_wrong_run(tmp_path), "4", task, "local", go_on=True),
    )
    session.prefix.start_rollouts = False
    session.start()
    session.close()
    tree = Tree.fold(read_events(tmp_path / "b.jsonl"))
    assert divergence_at(tree, "2").startswith("replayed output differs from the recorded one from step 2")
    assert divergence_at(tree, "3") is None
    app = TrajscopeApp(Source(tmp_path / "b.jsonl"))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "model", None) is not None)
        app.screen.tree.reveal("2")
        await pilot.pause()
        meta = app.screen.query_one(NodeDetail).query_one("#detail-meta")
        await wait_for(pilot, lambda: "replay: replayed output differs" in static_text(meta))
        app.screen.tree.reveal("3")
        await pilot.pause()
        await wait_for(pilot, lambda: "replay:" not in static_text(meta))
