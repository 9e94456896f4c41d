"""Linear rollouts through litellm and the fake server; DAgger mixing with two scripted models."""

from __future__ import annotations

import pytest

from trajscope.engine.events import RunLog, read_events
from trajscope.engine.policy.demo import DemoPolicy
from trajscope.engine.policy.llm import LLMPolicy
from trajscope.engine.policy.mixture import MixturePolicy
from trajscope.engine.policy_runs import run_linear
from trajscope.engine.trace import diff_stat
from trajscope.engine.tasks import load_task_dir
from trajscope.engine.tree import Tree
from tests.conftest import DEMO_TASKS
from tests.fake_llm import FakeLLM, Scripted, Solver, reply


@pytest.mark.slow
def test_a_linear_run_records_every_action_observation_token_and_the_verdict(tmp_path):
    task = load_task_dir(DEMO_TASKS[0])
    with FakeLLM(Solver(task)) as server, RunLog(tmp_path / "run.jsonl") as log:
        result, tree = run_linear(task, LLMPolicy("openai/fake", api_base=server.url), log, "local")
    assert result.reason == "submitted" and result.resolved
    events = read_events(tmp_path / "run.jsonl")
    assert Tree.fold(events).stats() == tree.stats()
    added = [e for e in events if e["type"] == "node_added"]
    executed = {e["id"]: e for e in events if e["type"] == "node_executed"}
    assert len(added) == len(server.requests) == result.steps
    for event in added:
        assert event["action"]["tool"] and event["tokens_in"] > 0 and event["tokens_out"] > 0
        assert executed[event["id"]]["observation"] and executed[event["id"]]["state_ref"]
    submitted = [e for e in events if e["type"] == "submitted"]
    assert len(submitted) == 1 and submitted[0]["verified"]["resolved"] is True
    assert set(submitted[0]["verified"]["passed"]) == set(task.FAIL_TO_PASS + task.PASS_TO_PASS)
    edits = [executed[e["id"]] for e in added if e["action"]["tool"] == "str_replace"]
    assert edits and edits[0]["patch"].startswith("diff --git") and edits[0]["diff_stat"]
    assert events[-1]["type"] == "run_finished" and events[-1]["totals"]["tokens_in"] == tree.tokens_in


def test_a_call_that_finally_fails_marks_the_node_failed_with_the_reason(tmp_path):
    task = load_task_dir(DEMO_TASKS[0])
    policy = None
    with FakeLLM(Solver(task), faults=[None, 500, 500, 500]) as server, RunLog(tmp_path / "run.jsonl") as log:
        policy = LLMPolicy("openai/fake", api_base=server.url, max_retries=2, backoff=0.01)
        result, tree = run_linear(task, policy, log, "local")
    assert result.reason == "policy_error" and result.steps == 1
    failed = tree.nodes[result.last]
    assert failed.status == "failed" and failed.status_by == "engine"
    assert "failed after 3 attempts" in failed.status_reason and "500" in failed.status_reason
    assert tree.finished == "policy_error"


def test_max_steps_ends_a_run_without_a_submission(tmp_path):
    task = load_task_dir(DEMO_TASKS[0])
    with FakeLLM(Scripted([reply("bash", command="true")])) as server, RunLog(tmp_path / "r.jsonl") as log:
        result, tree = run_linear(task, LLMPolicy("openai/fake", api_base=server.url), log, "local", max_steps=3)
    assert (result.reason, result.steps, result.submitted, tree.finished) == ("max_steps", 3, None, "max_steps")


def test_mixture_records_the_teachers_action_on_every_node(tmp_path):
    task = load_task_dir(DEMO_TASKS[0])
    student = Scripted([reply("bash", "student", command=f"echo s{i}") for i in range(6)] + [reply("submit")])
    teacher = Scripted([reply("bash", "teacher", command=f"echo t{i}") for i in range(6)] + [reply("submit")])
    with FakeLLM(student) as s, FakeLLM(teacher) as t, RunLog(tmp_path / "run.jsonl") as log:
        policy = MixturePolicy(
            LLMPolicy("openai/student", api_base=s.url), LLMPolicy("openai/teacher", api_base=t.url), beta=0.4, seed=3
        )
        result, _ = run_linear(task, policy, log, "local", max_steps=7)
    tree = Tree.fold(read_events(tmp_path / "run.jsonl"))
    nodes = [n for n in tree.nodes.values() if n.id != "root"]
    actors = [n.extra["actor"] for n in nodes]
    assert len(nodes) == 7 and {"student", "teacher"} == set(actors)
    for node in nodes:
        label = node.extra["teacher_action"]
        turn = node.depth - 1
        expected = "submit" if turn == 6 else f"echo t{turn}"
        assert (label.get("args") or {}).get("command", label["tool"]) == expected
        assert label["by"] == "openai/teacher"
        if node.extra["actor"] == "teacher":
            assert node.action["tool"] == label["tool"] and node.action["args"] == label["args"]
        else:
            assert node.action["args"]["command"] == f"echo s{turn}" or node.action["tool"] == "submit"
    # The teacher was asked at every node; the student only where it acted.
    assert len(t.requests) == len(nodes)
    assert len(s.requests) == actors.count("student")


def test_mixture_of_demo_policies_is_seeded():
    with pytest.raises(ValueError):
        MixturePolicy(DemoPolicy(), DemoPolicy(), beta=1.5)


def test_diff_stat():
    patch = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n-a\n+b\n+c\n"
    assert diff_stat(patch) == "1 file, +2 -1" and diff_stat("") == ""
