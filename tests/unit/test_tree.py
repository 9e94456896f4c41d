import random

from trajscope.engine.events import make_event
from trajscope.engine.tree import ROOT, Tree


def ev(type_, **fields):
    return make_event(type_, "r", ts=0.0, **fields)


def small_tree() -> Tree:
    events = [
        ev("run_started", task={"instance_id": "t1", "problem_statement": "fix it"}, config={}),
        ev("node_added", id="1", parent=None, action={"tool": "bash", "args": {"command": "ls"}, "raw": "ls"}),
        ev("node_executed", id="1", observation="a.py", exit_code=0),
        ev("node_added", id="2", parent="1", action={"tool": "str_replace", "args": {"path": "a.py"}, "raw": ""}),
        ev("node_added", id="3", parent="1", action={"tool": "create", "args": {"path": "b.py"}, "raw": ""}),
        ev("node_scored", id="2", scorer="builtin", score=0.8),
        ev("node_scored", id="3", scorer="builtin", score=0.3),
        ev("node_status", id="3", status="pruned", by="human", reason="wrong file"),
        ev("node_added", id="4", parent="2", action={"tool": "submit", "args": {}, "raw": "submit"}),
        ev("submitted", id="4", patch="diff", verified={"passed": ["t"], "failed": []}),
        ev("run_finished", reason="done"),
    ]
    return Tree.fold(events)


def test_fold_builds_the_tree():
    tree = small_tree()
    assert tree.title == "t1"
    assert tree.nodes[ROOT].observation == "fix it"
    assert tree.children("1") == ["2", "3"]
    assert tree.nodes["2"].kind == "edit" and tree.nodes["3"].kind == "create"
    assert tree.nodes["4"].kind == "submit" and tree.nodes["4"].depth == 3
    assert tree.nodes["3"].status == "pruned" and tree.nodes["3"].status_by == "human"
    assert tree.nodes["4"].status == "submitted" and tree.nodes["4"].resolved is True
    assert tree.nodes["1"].status == "done" and tree.nodes["1"].observation == "a.py"
    assert tree.finished == "done"


def test_stats():
    stats = small_tree().stats()
    assert stats["nodes"] == 4
    assert stats["leaves"] == 2
    assert stats["max_depth"] == 3
    assert stats["branch_points"] == 1
    assert stats["submissions"] == 1 and stats["resolved"] == 1
    assert stats["pruned"] == 1


def test_events_about_unknown_nodes_are_counted_not_fatal():
    tree = Tree.fold(
        [
            ev("node_scored", id="nope", score=0.5),
            ev("node_added", id="1", parent="missing"),
            ev("node_added", id="1", parent=None),
            ev("node_added", id="1", parent=None),
            ev("weird_type"),
        ]
    )
    assert len(tree) == 1
    assert tree.counts.dangling == 2
    assert tree.counts.duplicate == 1


def test_search_best_leaf_and_path():
    tree = small_tree()
    assert tree.search("A.PY") == ["1"]
    assert tree.search("") == []
    assert tree.best_leaf() is None  # leaf 4 has no score and leaf 3's score belongs to a pruned leaf
    assert [n.id for n in tree.path("4")] == ["1", "2", "4"]


def test_best_leaf_prefers_score_then_shallower():
    tree = Tree.fold(
        [
            ev("node_added", id="a", parent=None),
            ev("node_added", id="b", parent="a"),
            ev("node_added", id="c", parent=None),
            ev("node_scored", id="b", score=0.9),
            ev("node_scored", id="c", score=0.9),
        ]
    )
    assert tree.best_leaf() == "c"


def brute_force_stats(tree: Tree) -> dict:
    succ = tree.graph.succ
    turns = [n for n in tree.nodes.values() if n.id != ROOT]
    return {
        "nodes": len(turns),
        "leaves": sum(1 for n in turns if not succ[n.id]),
        "max_depth": max((n.depth for n in turns), default=0),
        "branch_points": sum(1 for n in tree.nodes if len(succ[n]) > 1),
        "submissions": sum(1 for n in turns if n.status == "submitted"),
        "pruned": sum(1 for n in turns if n.status == "pruned"),
        "tokens": sum(n.tokens_in + n.tokens_out for n in turns),
    }


def test_incremental_stats_match_a_recount_on_random_trees():
    rng = random.Random(3)
    for _ in range(20):
        events, ids = [], [None]
        for i in range(rng.randint(1, 200)):
            node_id = str(i)
            events.append(ev("node_added", id=node_id, parent=rng.choice(ids), tokens_in=rng.randint(0, 9)))
            ids.append(node_id)
            if rng.random() < 0.3:
                events.append(
                    ev(
                        "node_status",
                        id=rng.choice(ids[1:]),
                        status=rng.choice(["pruned", "promoted", "failed", "done"]),
                    )
                )
            if rng.random() < 0.1:
                events.append(ev("submitted", id=rng.choice(ids[1:]), patch="p", verified=None))
        tree = Tree.fold(events)
        stats = tree.stats()
        assert {k: stats[k] for k in brute_force_stats(tree)} == brute_force_stats(tree)
