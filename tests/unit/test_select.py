"""Selection: filter and de-duplicate submissions, then PRM, an LLM judge, or RTV."""

from __future__ import annotations

from trajscope.engine.actions import make_action
from trajscope.engine.events import make_event
from trajscope.engine.search.select import LLMJudge, candidates, select_judge, select_prm, select_rtv, summarize
from trajscope.engine.tree import Tree
from tests.fake_llm import FakeLLM, Scripted, reply

PATCH = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x\n+{}\n"


def tree_with(submissions):
    """Submissions: (node id, depth, patch body, score, resolved)."""
    events = [make_event("run_started", "r", task={"instance_id": "t-1", "problem_statement": "the bug"})]
    for node_id, depth, body, score, resolved in submissions:
        parent = None
        for d in range(depth - 1):
            step = f"{node_id}-s{d}"
            events += [
                make_event(
                    "node_added",
                    "r",
                    id=step,
                    parent=parent,
                    action=make_action("bash", {"command": f"python -m pytest {d}"}),
                ),
                make_event("node_executed", "r", id=step, observation="1 passed", exit_code=0),
            ]
            parent = step
        events += [
            make_event("node_added", "r", id=node_id, parent=parent, action=make_action("submit", {})),
            make_event("node_executed", "r", id=node_id, observation="diff", exit_code=0),
            make_event("node_scored", "r", id=node_id, scorer="prm", score=score),
            make_event(
                "submitted", "r", id=node_id, patch=PATCH.format(body) if body else "", verified={"resolved": resolved}
            ),
        ]
    return Tree.fold(events)


def test_filter_dedupe_and_prm():
    tree = tree_with(
        [("a", 3, "y", 0.4, False), ("b", 2, "y", 0.9, False), ("c", 2, "z", 0.7, True), ("d", 1, "", 0.99, False)]
    )
    pool = candidates(tree)
    assert sorted(c.node for c in pool) == ["b", "c"]  # d is empty; a repeats b's patch (b is shallower)
    assert next(c for c in pool if c.node == "b").duplicates == ["a"]
    assert select_prm(tree)[0] == "b"
    tied = tree_with([("long", 4, "y", 0.8, False), ("short", 2, "z", 0.8, True)])
    tied.nodes["long-s0"].scores["prm"] = tied.nodes["short-s0"].scores["prm"] = 0.8
    assert select_prm(tied)[0] == "short"


def test_summaries_name_the_hypothesis_progress_and_failure_modes():
    tree = tree_with([("a", 3, "y", 0.5, False)])
    text = summarize(tree, "a")
    assert text.startswith("Hypothesis: ") and "Progress: 3 steps, 0 edits" in text and "Failure modes:" in text
    assert "repeated actions" not in text


def test_rtv_runs_groups_with_several_shuffled_votes():
    tree = tree_with([(f"n{i}", 2, f"fix{i}", 0.5, i == 4) for i in range(7)])
    seen = []

    def judge(issue, attempts):  # votes for the attempt whose patch holds fix4, else the first
        seen.append(len(attempts))
        return next((i for i, (_, patch) in enumerate(attempts) if "+fix4" in patch), 0)

    winner, pool = select_rtv(tree, judge, group=3, votes=3, seed=1)
    assert winner == "n4" and len(pool) == 7
    assert max(seen) <= 3 and len(seen) >= 3 * 3  # three groups in the first round, three votes each


def test_rtv_ties_and_silent_judges_go_to_the_shorter_trajectory():
    tree = tree_with([("deep", 5, "a", 0.5, False), ("shallow", 2, "b", 0.5, True)])
    assert select_rtv(tree, lambda issue, attempts: None, seed=0)[0] == "shallow"


def test_llm_judge_through_litellm():
    tree = tree_with([("a", 2, "one", 0.9, False), ("b", 2, "two", 0.1, True)])
    with FakeLLM(Scripted([reply(text='{"choice": 2, "reason": "two handles it"}')])) as server:
        from trajscope.engine.policy.llm import LLMPolicy

        judge = LLMJudge(LLMPolicy("openai/judge", api_base=server.url))
        assert select_judge(tree, judge)[0] == "b"
    prompt = server.requests[0]["messages"][0]["content"]
    assert "the bug" in prompt and "Attempt 2:" in prompt and "+two" in prompt
    with FakeLLM(Scripted([reply(text="no idea")])) as server:
        judge = LLMJudge(LLMPolicy("openai/judge", api_base=server.url))
        assert select_judge(tree, judge)[0] == "a"  # an unreadable vote falls back to the PRM


def test_rtv_through_litellm_votes_in_groups():
    tree = tree_with([(f"n{i}", 2, f"fix{i}", 0.5, False) for i in range(5)])

    def vote(request, index):  # the fake judge votes for whichever attempt shows fix3, else the first
        text = request["messages"][0]["content"]
        attempts = text.split("Attempt ")[1:]
        pick = next((i + 1 for i, a in enumerate(attempts) if "+fix3" in a), 1)
        return reply(text=f'{{"choice": {pick}}}')

    with FakeLLM(vote) as server:
        from trajscope.engine.policy.llm import LLMPolicy

        winner, _ = select_rtv(tree, LLMJudge(LLMPolicy("openai/judge", api_base=server.url)), group=3, votes=2)
    assert winner == "n3"
    assert all("tools" not in r for r in server.requests) and len(server.requests) >= 2 * 2
