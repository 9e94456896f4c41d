"""Exports from a run a person curated: prune, promote and edit events, then patch,
predictions, SFT, preference pairs and DAgger records, through the library and the CLI."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from trajscope.engine.actions import parse_tool_call
from trajscope.engine.events import read_events
from trajscope.engine.formats.training import dagger, dpo, sft
from trajscope.engine.policy.demo import DemoPolicy
from trajscope.engine.prm.heuristic import HeuristicScorer
from trajscope.engine.search.budget import Budget
from trajscope.engine.search.config import SearchConfig
from trajscope.engine.session import Session
from trajscope.engine.tasks import load_task_dir
from trajscope.engine.tree import ROOT, Tree
from tests.conftest import DEMO_TASKS

TASK = load_task_dir(next(p for p in DEMO_TASKS if p.name == "duration-ms-unit"))
REPO = DEMO_TASKS[0].parent.parent.parent  # the checkout


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    """A DARS search, then a person's promote, prune (of the promoted node's sibling) and edit."""
    path = tmp_path_factory.mktemp("curated") / "run.jsonl"
    session = Session(
        TASK,
        DemoPolicy(seed=3),
        path,
        scorers=[HeuristicScorer()],
        budget=Budget(nodes=20),
        config=SearchConfig(strategy="dars", k=2),
        seed=3,
    )
    session.start()
    session.wait(120)
    tree = session.tree
    parent = next(p for p in tree.nodes if len(tree.children(p)) >= 2)
    keep, drop = tree.children(parent)[:2]
    session.commands.promote(keep)
    session.commands.prune(drop)
    edited = next(n for n in tree.nodes.values() if n.id != ROOT and n.action["tool"] == "bash")
    session.commands.edit(edited.id, {"tool": "bash", "args": {"command": "echo by-hand"}})
    session.wait(60)
    session.close()
    return path, Tree.fold(read_events(path)), keep, drop, edited.id


@pytest.mark.slow
def test_sft_is_the_shortest_resolved_path_and_round_trips_to_its_actions(curated):
    _, tree, *_ = curated
    [record] = sft(tree)
    resolved = [n for n in tree.nodes.values() if n.status == "submitted" and n.verified["resolved"]]
    assert record["steps"] == min(n.depth for n in resolved)
    messages = record["messages"]
    assert [m["role"] for m in messages[:2]] == ["system", "user"]
    assert TASK.problem_statement.strip()[:40] in messages[1]["content"]
    calls = [m["tool_calls"][0]["function"] for m in messages if m["role"] == "assistant"]
    path = tree.path(record["node"])
    assert len(calls) == len(path) and calls[-1]["name"] == "submit"
    for call, node in zip(calls, path):  # back to the very actions of the path
        assert parse_tool_call(call["name"], call["arguments"]).args == node.action["args"]
    assert sum(m["role"] == "tool" for m in messages) == len(path)


@pytest.mark.slow
def test_dpo_pairs_the_promoted_over_the_pruned_sibling(curated):
    _, tree, keep, drop, _ = curated
    pairs = dpo(tree)
    human = [p for p in pairs if p["source"] == "human: promoted over pruned"]
    assert [(p["chosen_node"], p["rejected_node"]) for p in human] == [(keep, drop)]
    parent = tree.nodes[keep].parent
    assert len(human[0]["prompt"]) == 2 + 2 * tree.nodes[parent].depth  # system, task, then the shared prefix
    assert human[0]["chosen"]["tool_calls"][0]["function"]["name"] == tree.nodes[keep].action["tool"]
    for pair in pairs:  # outcome pairs: the chosen branch only resolved, the rejected one only failed
        assert tree.nodes[pair["chosen_node"]].parent == tree.nodes[pair["rejected_node"]].parent


@pytest.mark.slow
def test_dagger_has_the_persons_edit_as_the_teacher_label(curated):
    _, tree, _, _, edited = curated
    records = dagger(tree)
    mine = [r for r in records if r["by"] == "human"]
    assert len(mine) == 1
    call = mine[0]["teacher_action"]["tool_calls"][0]["function"]
    assert call["name"] == "bash" and orjson.loads(call["arguments"]) == {"command": "echo by-hand"}
    node = tree.nodes[mine[0]["node"]]
    assert node.extra["edited_from"] == edited
    assert len(mine[0]["state"]) == 2 + 2 * (node.depth - 1)  # the state the edit was made in


def run_export(*args):
    return subprocess.run(
        [sys.executable, "-m", "trajscope.tui.cli", "export", *map(str, args)], capture_output=True, text=True, cwd=REPO
    )


@pytest.mark.slow
@pytest.mark.subprocess
def test_cli_predictions_and_patch(curated, tmp_path):
    path, tree, *_ = curated
    out = tmp_path / "preds.jsonl"
    done = run_export(path, "--format", "predictions", "-o", out)
    assert done.returncode == 0, done.stderr
    [line] = out.read_bytes().splitlines()
    record = orjson.loads(line)
    assert list(record) == ["instance_id", "model_name_or_path", "model_patch"]
    assert record["instance_id"] == TASK.instance_id and record["model_name_or_path"] == "demo policy"
    patch = run_export(path, "--format", "patch")
    assert patch.returncode == 0 and patch.stdout == record["model_patch"]
    for fmt in ("sft", "dpo", "dagger"):
        done = run_export(path, "--format", fmt)
        assert done.returncode == 0 and all(orjson.loads(x) for x in done.stdout.splitlines()), fmt


@pytest.mark.subprocess
def test_cli_export_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json at all\n")
    done = run_export(bad, "--format", "sft")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    done = run_export(REPO / "demo_data" / "runs" / "calc-divide.jsonl", "--format", "patch", "--node", "nope")
    assert done.returncode == 2 and "no node" in done.stderr


@pytest.mark.slow
def test_dagger_student_action_of_an_edit_is_the_replaced_action(curated):
    _, tree, _, _, edited = curated
    [record] = [r for r in dagger(tree) if r["by"] == "human"]
    call = record["student_action"]["tool_calls"][0]["function"]
    assert orjson.loads(call["arguments"]) == tree.nodes[edited].action["args"]


def test_the_patch_of_a_node_is_the_patch_of_its_state(tmp_path):
    from trajscope.engine.formats import load
    from trajscope.engine.formats.export import patch_of
    from trajscope.engine.tree import Tree
    from tests.conftest import DEMO_RUN

    tree = Tree.fold(load(DEMO_RUN).events)
    assert tree.nodes["14"].patch is None and tree.nodes["13"].patch  # a run below a create
    assert patch_of(tree, "14") == patch_of(tree, "13") and "repro.py" in patch_of(tree, "14")
    assert tree.patch_at("3") == "" and tree.patch_at("root") == ""
