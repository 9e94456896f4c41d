"""PRM data: labels from run logs (human acts included), split by task; training is seeded."""

from __future__ import annotations

import pytest

from trajscope.engine.actions import make_action
from trajscope.engine.events import make_event
from trajscope.engine.prm import data
from trajscope.engine.prm.train import auroc, pairwise_accuracy, train
from trajscope.engine.tree import Tree


def _tree(events):
    return Tree.fold([make_event(t, "r", **f) for t, f in events])


def _node(node_id, parent, tool="bash", **args):
    return [
        ("node_added", {"id": node_id, "parent": parent, "action": make_action(tool, args or {"command": node_id})}),
        ("node_executed", {"id": node_id, "observation": f"out {node_id}", "exit_code": 0}),
    ]


def test_labels_follow_outcomes_and_human_acts():
    events = [("run_started", {"task": {"instance_id": "t-1", "problem_statement": "bug"}})]
    events += _node("a", None) + _node("b", "a") + _node("c", "a") + _node("d", "c") + _node("e", "a")
    events += [
        ("submitted", {"id": "b", "patch": "p", "verified": {"resolved": True}}),
        ("submitted", {"id": "d", "patch": "q", "verified": {"resolved": False}}),
        ("node_status", {"id": "c", "status": "promoted", "by": "human"}),
        ("node_status", {"id": "e", "status": "pruned", "by": "human"}),
    ]
    labels = {ex.context.steps[-1].action.args["command"]: ex.label for ex in data.examples_from_tree(_tree(events))}
    # a: one of three leaves resolved; b resolved; c promoted by a person, d under it inherits; e pruned.
    assert labels == {"a": pytest.approx(1 / 3), "b": 1.0, "c": 1.0, "d": 1.0, "e": 0.0}


def test_shared_prefixes_get_a_monte_carlo_label(tmp_path):
    from trajscope.engine.events import write_events

    paths = []
    for i, resolved in enumerate([True, False, False, True]):
        events = [("run_started", {"task": {"instance_id": "t-1", "problem_statement": "bug"}})]
        events += _node("n1", None, command="ls") + _node("n2", "n1", command=f"fix {i % 2}")
        events += [("submitted", {"id": "n2", "patch": "p", "verified": {"resolved": resolved}})]
        write_events(tmp_path / f"r{i}.jsonl", [make_event(t, "r", **f) for t, f in events])
        paths.append(tmp_path / f"r{i}.jsonl")
    examples = data.examples_from_logs(paths)
    first = [e.label for e in examples if len(e.context.path) == 0]
    second = {e.context.action.args["command"]: e.label for e in examples if len(e.context.path) == 1}
    assert first == [0.5] * 4 and second == {"fix 0": 0.5, "fix 1": 0.5}
    assert [e.outcome for e in examples if len(e.context.path) == 1] == [1, 0, 0, 1]


def test_metrics():
    assert auroc([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0]) == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 0.0
    assert auroc([0.5, 0.5], [1, 0]) == 0.5 and auroc([0.3], [1]) == 0.5


def test_the_bundled_dataset_is_split_by_task():
    examples = data.load()
    train_ex, test_ex, held = data.split_by_task(examples, 3, seed=0)
    assert len(held) == 3 and train_ex and test_ex
    assert not {e.context.task_id for e in train_ex} & {e.context.task_id for e in test_ex}
    assert 0 <= pairwise_accuracy(test_ex, [e.label for e in test_ex]) <= 1


@pytest.mark.slow
def test_training_is_reproducible_with_a_seed(tmp_path):
    examples = data.load()
    small = [e for e in examples if e.context.task_id in sorted({x.context.task_id for x in examples})[:4]]
    data.save(small, tmp_path / "small.jsonl.gz")
    a = train(tmp_path / "small.jsonl.gz", tmp_path / "a.pt", seed=3, epochs=2, held_out=1)
    b = train(tmp_path / "small.jsonl.gz", tmp_path / "b.pt", seed=3, epochs=2, held_out=1)
    assert a["held_out_tasks"] == b["held_out_tasks"]
    assert a["builtin"]["auroc"] == pytest.approx(b["builtin"]["auroc"], abs=0.03)
    from trajscope.engine.prm.model import BuiltinScorer

    scorer = BuiltinScorer(device="cpu", weights=tmp_path / "a.pt")
    assert scorer.meta["seed"] == 3
