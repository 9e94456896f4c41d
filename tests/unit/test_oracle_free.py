"""Oracle-free search: the hidden tests (FAIL_TO_PASS / PASS_TO_PASS) grade a search and
steer none of it, unless the user asks for ``--oracle``.

The proof: a search whose hidden tests always fail makes the same decisions (nodes, actions,
phases, selection) as one with the real tests; no prompt sent to a model names a hidden test
or says what the tests made of a submission; selection keeps a patch whatever the grader's
run said of it; and ``oracle`` brings the old behaviours back, recorded and said.
"""

from __future__ import annotations

import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from trajscope.engine.actions import make_action
from trajscope.engine.events import make_event, read_events
from trajscope.engine.launch import build_session, result_json, selector
from trajscope.engine.search import dars
from trajscope.engine.search.resample import resample_prompt
from trajscope.engine.search.select import candidates
from trajscope.engine.search.config import SearchConfig
from trajscope.engine.spec import SearchSpec, SpecError
from trajscope.engine.tasks import load_task_dir
from trajscope.engine.tree import Tree
from tests.conftest import DEMO_TASKS
from tests.fake_llm import FakeLLM, Solver
from tests.support import SEMVER, search

# A conftest.py the hidden tests' patch adds: every test's call raises, so no submission resolves.
ALWAYS_FAIL = (
    "diff --git a/conftest.py b/conftest.py\nnew file mode 100644\n--- /dev/null\n+++ b/conftest.py\n"
    "@@ -0,0 +1,2 @@\n+def pytest_pyfunc_call(pyfuncitem):\n"
    "+    raise AssertionError('these hidden tests always fail')\n"
)


def _task_copy(tmp_path, name: str, always_fail: bool):
    folder = tmp_path / ("failing" if always_fail else "real")
    shutil.copytree(next(p for p in DEMO_TASKS if p.name == name), folder)
    if always_fail:
        spec = folder / "task.json"
        data = json.loads(spec.read_text(encoding="utf-8"))
        data["test_patch"] += ALWAYS_FAIL
        spec.write_text(json.dumps(data), encoding="utf-8")
    return load_task_dir(folder)


def _both(searched, tmp_path):
    """The search with the real hidden tests and the one with tests that always fail, run at once:
    each is seeded and has one worker, so running beside the other changes none of its decisions,
    and the two together take little more than the longer one."""
    with ThreadPoolExecutor(2) as pool:
        real, failing = (pool.submit(searched, tmp_path, always_fail=f) for f in (False, True))
        return real.result(), failing.result()


def _searched(tmp_path, always_fail: bool, **options):
    """A DARS search with the seeded demo policy on a copy of a bundled task: its decisions and its result."""
    spec = SearchSpec(
        strategy="dars", workers=1, max_nodes=12, pace=0.0, sandbox="local", prm="heuristic", seed=0, **options
    )
    task = _task_copy(tmp_path, "csv-sniff-quotes", always_fail)
    log = tmp_path / f"{'failing' if always_fail else 'real'}.jsonl"
    session = build_session(spec, task, log)
    session.start()
    session.wait(240)
    session.close()
    tree = session.tree
    decisions = [(n.id, n.parent, n.action, n.extra.get("expanded_from")) for n in tree.nodes.values()]
    phases = [c.get("phase") for c in tree.commands if c.get("name") == "search_phase"]
    result = result_json(session, 0.0, selector(spec), spec.select)
    return decisions, phases, result, tree, log


@pytest.mark.slow
def test_hidden_tests_that_always_fail_change_no_decision(tmp_path):
    real, failing = _both(_searched, tmp_path)
    # the tests graded differently: the real ones resolved a submission, the failing ones none
    assert real[3].stats()["resolved"] >= 1 and failing[3].stats()["resolved"] == 0
    assert failing[3].stats()["submissions"] == real[3].stats()["submissions"] >= 1
    assert real[0] == failing[0]  # the same nodes, under the same parents, with the same actions
    assert real[1] == failing[1]  # the same phases past DARS's limits
    assert real[2]["selected"] == failing[2]["selected"] is not None
    assert real[2]["resolved"] and not failing[2]["resolved"]  # still graded and shown
    assert real[2]["oracle"] is False
    started = next(e for e in read_events(real[4]) if e["type"] == "run_started")
    assert started["config"]["spec"]["oracle"] is False


WRONG_RATE, SEED = 0.3, 4  # a search that finds the fix and keeps a reproduction test


def _searched_with_tests(tmp_path, always_fail: bool):
    """A DARS search with a noisy simulated model and ``--select tests`` (the agent's own checks:
    reproduction tests the model writes, visible tests, its own commands): decisions and result."""
    task = _task_copy(tmp_path, "slugify-accents", always_fail)
    with FakeLLM(Solver(task, wrong_rate=WRONG_RATE, seed=SEED)) as server:
        spec = SearchSpec(
            strategy="dars", model="openai/fake", api_base=server.url, api_key="x", workers=1, max_nodes=12,
            sandbox="local", prm="heuristic", seed=0, select="tests",
        )  # fmt: skip
        session = build_session(spec, task, tmp_path / f"tests-{always_fail}.jsonl")
        session.start()
        session.wait(240)
        session.close()
    tree = session.tree
    decisions = [(n.id, n.parent, n.action, n.extra.get("expanded_from")) for n in tree.nodes.values()]
    checks = [(n.id, n.extra.get("checks")) for n in tree.nodes.values() if n.extra.get("checks")]
    return decisions, checks, result_json(session, 0.0, selector(spec), spec.selector_name()), tree


@pytest.mark.slow
def test_with_select_tests_hidden_tests_that_always_fail_change_no_decision(tmp_path):
    real, failing = _both(_searched_with_tests, tmp_path)
    assert real[3].stats()["resolved"] >= 1 and failing[3].stats()["resolved"] == 0
    assert any(t["kept"] for t in real[3].checks["tests"])  # the checks ran and kept a test
    assert real[3].checks["tests"] == failing[3].checks["tests"]  # the same tests written and kept
    assert real[1] == failing[1] != []  # the same checks of the same candidates
    assert real[0] == failing[0]  # the same nodes, under the same parents, with the same actions
    assert real[2]["select"] == "tests" and real[2]["selected"] == failing[2]["selected"] is not None
    assert real[2]["why"] == failing[2]["why"] and real[2]["finished"] == failing[2]["finished"]
    assert "passes every kept reproduction test" in real[2]["finished"]  # the stopping rule, on the agent's checks


def _hidden_names(task) -> list[str]:
    """The hidden tests the agent cannot see: those whose function the repository it works in lacks."""
    names = []
    for name in task.FAIL_TO_PASS + task.PASS_TO_PASS:
        path, _, function = name.partition("::")
        source = task.repo_dir / path
        bare = function.split("[")[0]
        if not source.is_file() or not re.search(rf"\bdef {re.escape(bare)}\b", source.read_text(encoding="utf-8")):
            names += [name, bare]
    return names


@pytest.mark.slow
def test_no_prompt_names_a_hidden_test_or_its_verdict(tmp_path):
    with FakeLLM(Solver(SEMVER, wrong_rate=0.6, seed=5)) as server:
        session = search(tmp_path, "dars", server, nodes=12, k=3)
    assert session.tree.stats()["submissions"] >= 1
    expansions = [r for r in server.requests if r.get("n") == 3]
    assert any("It was submitted" in json.dumps(r) for r in expansions)  # the lookahead reached a submission
    hidden = _hidden_names(SEMVER)
    assert hidden  # the task's hidden tests include some the agent cannot see
    for request in server.requests:
        text = json.dumps(request)
        assert not [name for name in hidden if name in text]
        assert not re.search(r"tests? (passed|failed)|tests failed|these tests", text, re.IGNORECASE)
    # what the engine writes after the lookahead (the outcome) names no hidden test, visible or not
    for request in expansions:
        prompt = request["messages"][-1]["content"]
        outcome = prompt.split("</what_followed>", 1)[-1]
        assert not [t for t in SEMVER.FAIL_TO_PASS + SEMVER.PASS_TO_PASS if t in outcome]


def _submitted_tree(verified: dict) -> Tree:
    patch = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x\n+y\n"
    return Tree.fold(
        [
            make_event("run_started", "r", task={"instance_id": "t-1", "problem_statement": "the bug"}),
            make_event(
                "node_added",
                "r",
                id="n1",
                parent=None,
                action=make_action("str_replace", {"path": "a.py", "old": "x", "new": "y"}),
            ),
            make_event("node_executed", "r", id="n1", observation="ok", exit_code=0, patch=patch),
            make_event("node_added", "r", id="n2", parent="n1", action=make_action("submit", {})),
            make_event("node_executed", "r", id="n2", observation="", exit_code=0),
            make_event("submitted", "r", id="n2", patch=patch, verified=verified),
        ]
    )


def test_the_resample_prompt_says_it_was_submitted_and_shows_the_patch_only():
    failed = {"passed": [], "failed": ["tests/test_a.py::test_hidden"], "resolved": False}
    for verified in (failed, {"passed": ["tests/test_a.py::test_hidden"], "failed": [], "resolved": True}):
        prompt = resample_prompt(_submitted_tree(verified), "n1")
        assert "It was submitted." in prompt and "+y" in prompt
        assert "test_hidden" not in prompt and "passed" not in prompt and "failed" not in prompt
    with_oracle = resample_prompt(_submitted_tree(failed), "n1", oracle=True)
    assert "These tests failed: tests/test_a.py::test_hidden" in with_oracle


def test_selection_keeps_a_patch_whatever_the_graders_run_said():
    # the patch is the diff of the node's own state: whether the grader's run applied it is not the search's to read
    tree = _submitted_tree({"passed": [], "failed": [], "resolved": False, "error": "the patch does not apply: x"})
    assert [c.node for c in candidates(tree)] == ["n2"]
    assert candidates(tree, oracle=True) == []


def test_dars_goes_on_past_its_limits_whatever_was_resolved_unless_oracle():
    tree = _submitted_tree({"passed": ["t"], "failed": [], "resolved": True})

    class View:
        busy, budget = 0, None

        def __init__(self, tree):
            self.tree = tree

    assert dars.Dars(SearchConfig(), tree).may_go_on(View(tree))
    assert not dars.Dars(SearchConfig(oracle=True), tree).may_go_on(View(tree))


def test_oracle_is_a_typed_spec_field_and_a_command_line_flag():
    import argparse

    from trajscope.tui.cli.specs import add_spec_options

    assert SearchSpec.from_json({"oracle": True}).oracle is True
    assert SearchSpec().search_config().oracle is False and SearchSpec(oracle=True).search_config().oracle
    with pytest.raises(SpecError, match="oracle must be bool"):
        SearchSpec.from_json({"oracle": 1})
    parser = argparse.ArgumentParser()
    add_spec_options(parser)
    assert parser.parse_args(["--oracle"]).oracle is True and parser.parse_args([]).oracle is False


def test_every_summary_says_when_the_oracle_steered_the_search(tmp_path):
    from types import SimpleNamespace

    from trajscope.engine.batch.fleet import Member
    from trajscope.tui.cli.search import summary_lines

    tree = _submitted_tree({"passed": ["t"], "failed": [], "resolved": True})
    for oracle in (False, True):
        session = SimpleNamespace(
            tree=tree,
            config=SearchConfig(oracle=oracle),
            finished="done",
            sandbox_kind="local",
            task=SimpleNamespace(instance_id="t-1"),
            recorder=SimpleNamespace(log=SimpleNamespace(path=tmp_path / "run.jsonl")),
        )
        result = result_json(session, 1.0)
        assert result["oracle"] is oracle and result["selected"] == "n2"
        assert ("--oracle" in summary_lines(result)) is oracle
        member = Member("t-1", {"search": SearchSpec(oracle=oracle).to_json()}, tmp_path / "t-1.jsonl")
        assert member.row()["oracle"] is oracle
