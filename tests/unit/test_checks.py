"""The agent's own checks (engine/search/checks.py) and what reads them: ``--select tests`` and
DARS's stopping rule. None of it may read the hidden tests; a check's output steers nothing on
the host."""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

from trajscope.engine.events import make_event
from trajscope.engine.policy.simulated import REPRO_FROM_ISSUE, REPRO_NOISE, reproduction_test
from trajscope.engine.search import dars
from trajscope.engine.search.budget import Budget
from trajscope.engine.search.checks import (
    MAX_EXCERPT,
    Checker,
    behaviour_digest,
    extract_test,
    regressions,
    settled,
)
from trajscope.engine.search.select import select_prm, select_recorded, select_tests
from trajscope.engine.search.config import SearchConfig
from trajscope.engine.tree import Tree
from tests.conftest import DEMO_TASKS
from tests.check_fixture import BREAKS, NO_TEST, RIGHT_TEST, SLUGIFY, VACUOUS_TEST, checked_run

PATCH = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x\n+{}\n"


def _events(candidates: dict, tests: list[str], extra: list[dict] = ()) -> list[dict]:
    """A run: one submitted node per candidate, ``{node: (prm, repro, n_regressions, commands)}``."""
    events = [
        make_event("run_started", "r", task={"instance_id": "t", "problem_statement": "p"}, config={}),
        make_event(
            "checks_prepared",
            "r",
            visible={"passed": 3, "failed": 0},
            tests=[{"id": t, "kept": True} for t in tests] + [{"id": "tx", "kept": False}],
            tokens_in=100,
            tokens_out=40,
        ),
    ]
    for i, (node, (prm, repro, broken, commands)) in enumerate(candidates.items()):
        patch = PATCH.format(node)
        events += [
            make_event("node_added", "r", id=node, parent=None, action={"tool": "submit", "args": {}}, kind="submit"),
            make_event("node_executed", "r", id=node, observation="", exit_code=0, patch=patch),
            make_event("node_scored", "r", id=node, scorer="h", score=prm),
            make_event("submitted", "r", id=node, patch=patch, verified={"resolved": False}),
            make_event(
                "candidate_checked",
                "r",
                id=node,
                key=f"k{i}",
                cached=False,
                repro=repro,
                regressions=["tests/test_a.py::test_b"] * broken,
                n_regressions=broken,
                commands=[{"command": c, "exit_code": 0, "digest": d} for c, d in commands.items()],
            ),
        ]
    return events + list(extra)


def _tree(candidates: dict, tests: list[str], extra: list[dict] = ()) -> Tree:
    return Tree.fold(_events(candidates, tests, extra))


def test_selection_ranks_by_reproduction_tests_before_regressions_clusters_and_the_prm():
    tree = _tree(
        {
            "a": (0.9, {"t1": False, "t2": True}, 0, {}),  # the PRM's favourite
            "b": (0.2, {"t1": True, "t2": True}, 1, {}),  # passes every test, breaks one visible test
            "c": (0.1, {"t1": True, "t2": True}, 0, {}),
        },
        ["t1", "t2"],
    )
    assert select_prm(tree)[0] == "a"
    chosen, pool = select_tests(tree)
    assert chosen == "c"
    facts = {c.node: c.facts for c in pool}
    assert facts["c"]["tests_passed"] == ["t1", "t2"] and facts["a"]["tests_passed"] == ["t2"]
    assert "passes more reproduction tests than #a" in facts["c"]["why"]
    assert "breaks fewer visible tests than #b" in facts["c"]["why"] and facts["b"]["chosen"] is False
    assert tree.tokens_in == 100 and tree.tokens_out == 40  # the model's tests count in the budget


def test_candidates_that_behave_alike_form_a_cluster_and_the_larger_one_wins_a_tie():
    same, other = {"python3 repro.py": "d1", "ls": "d0"}, {"python3 repro.py": "d2", "ls": "d0"}
    tree = _tree(
        {
            "lone": (0.9, {"t1": True}, 0, other),
            "x": (0.3, {"t1": True}, 0, same),
            "y": (0.2, {"t1": True}, 0, {"python3 repro.py": "d1"}),  # agrees on the one command both ran
        },
        ["t1"],
    )
    chosen, pool = select_tests(tree)
    assert {c.node: c.facts["cluster"] for c in pool} == {"lone": 1, "x": 2, "y": 2}
    assert chosen == "x"  # cluster of two; the PRM then prefers x to y
    why = {c.node: c.facts for c in pool}["x"]["why"]
    assert "more candidates behave as it does than as #lone" in why and "the PRM scores it higher than #y" in why


def test_the_judge_breaks_ties_on_the_checks_only_when_one_is_given():
    tree = _tree({"a": (0.9, {"t1": True}, 0, {}), "b": (0.1, {"t1": True}, 0, {})}, ["t1"])
    asked = []

    def judge(issue, attempts):
        asked.append(len(attempts))
        return 1

    assert select_tests(tree)[0] == "a"  # no judge: the PRM
    chosen, pool = select_tests(tree, judge)
    assert chosen == "b" and asked == [2]
    assert "the judge preferred it" in next(c.facts["why"] for c in pool if c.node == "b")
    # not tied on the checks: the judge is not asked
    lopsided = _tree({"a": (0.9, {"t1": True}, 0, {}), "b": (0.1, {"t1": False}, 0, {})}, ["t1"])
    assert select_tests(lopsided, judge)[0] == "a" and asked == [2]


def test_without_checks_select_tests_falls_back_to_the_prm_and_says_so():
    events = [make_event("run_started", "r", task={"instance_id": "t", "problem_statement": "p"}, config={})]
    for node, prm in (("a", 0.2), ("b", 0.7)):
        events += [
            make_event("node_added", "r", id=node, parent=None, action={"tool": "submit", "args": {}}, kind="submit"),
            make_event("node_scored", "r", id=node, scorer="h", score=prm),
            make_event("submitted", "r", id=node, patch=PATCH.format(node), verified={}),
        ]
    chosen, pool = select_tests(Tree.fold(events))
    assert chosen == "b" and "was not checked" in next(c.facts["why"] for c in pool if c.node == "b")


@pytest.mark.parametrize(
    "repro, broken, stops",
    [
        ({"t1": True, "t2": True}, 0, True),
        ({"t1": True, "t2": False}, 0, False),  # one kept test still fails
        ({"t1": True, "t2": True}, 2, False),  # it breaks visible tests
    ],
)
def test_dars_stops_early_only_on_a_candidate_that_passes_every_kept_test_and_breaks_none(repro, broken, stops):
    tree = _tree({"a": (0.5, repro, broken, {})}, ["t1", "t2"])
    strategy = dars.Dars(SearchConfig(), tree)

    class View:  # what a strategy reads of a search (SearchView)
        busy = 0
        budget = Budget(nodes=100)

        def __init__(self, tree):
            self.tree = tree

        def emit(self, type_, **fields):
            return {}

    view = View(tree)
    assert (settled(tree) == "a") is stops
    assert strategy.may_go_on(view) is (not stops)
    if stops:
        assert strategy.next_jobs(view) == []
        assert "passes every kept reproduction test" in strategy.end_reason(tree)
    else:
        assert strategy.end_reason(tree) is None


def test_no_kept_test_means_no_early_stop():
    tree = _tree({"a": (0.5, {}, 0, {})}, [])
    assert settled(tree) is None


def test_a_hand_made_check_event_of_the_wrong_shape_is_left_out_not_trusted():
    tree = _tree({"a": (0.5, {"t1": True}, 0, {})}, ["t1"])
    tree.apply(make_event("checks_prepared", "r", visible="x", tests=["not a test", {"id": "t9", "kept": True}]))
    tree.apply(make_event("candidate_checked", "r", id="a", key=7, repro="yes", n_regressions="0", commands=[1, "x"]))
    assert [t["id"] for t in tree.checks["tests"]] == ["t9"]
    facts = tree.nodes["a"].extra["checks"]
    assert "repro" not in facts and "n_regressions" not in facts and facts["commands"] == []
    select_tests(tree)  # reads it without failing
    assert tree.counts.bad_fields >= 4


def test_outputs_are_compared_without_timings_and_a_test_is_read_from_its_block():
    assert behaviour_digest(0, "1 passed in 0.03s at 0x7f00") == behaviour_digest(0, "1 passed in 1.20s at 0x7abc")
    assert behaviour_digest(0, "ok") != behaviour_digest(1, "ok")
    assert extract_test("Here:\n```python\ndef test_x():\n    pass\n```\nDone.") == "def test_x():\n    pass"
    assert len(extract_test("x" * 100_000)) <= 8000


def test_the_simulated_model_writes_right_weak_wrong_and_vacuous_tests_seeded():
    tests = [reproduction_test(SLUGIFY, random.Random(seed)) for seed in range(40)]
    assert tests == [reproduction_test(SLUGIFY, random.Random(seed)) for seed in range(40)]  # seeded
    right = [t for t in tests if '== "creme-brulee-a-la-francaise"' in t]
    wrong = [t for t in tests if '== "~creme' in t]
    weak = [t for t in tests if "still what the issue reports" in t]
    vacuous = [t for t in tests if "os.path.isdir" in t]
    assert right and wrong and weak and vacuous and len(right + wrong + weak + vacuous) == 40
    assert len(REPRO_NOISE) == 4
    assert not any("test_french_accents" in t for t in tests)  # never the hidden tests' names


def test_the_simulated_model_never_reads_the_hidden_tests():
    other = dataclasses.replace(SLUGIFY, test_patch=SLUGIFY.test_patch.replace("creme", "crème-hidden"))
    assert other.test_patch != SLUGIFY.test_patch
    tests = [reproduction_test(SLUGIFY, random.Random(seed)) for seed in range(40)]
    assert tests == [reproduction_test(other, random.Random(seed)) for seed in range(40)]
    assert [
        reproduction_test(dataclasses.replace(SLUGIFY, test_patch=""), random.Random(s)) for s in range(40)
    ] == tests
    # the test from the issue lies beside the code, so no sandbox copies it and no test run collects it
    assert (SLUGIFY.path / REPRO_FROM_ISSUE).is_file() and not list(SLUGIFY.repo_dir.rglob(REPRO_FROM_ISSUE))


def test_a_task_without_a_test_from_its_issue_gets_no_right_test(tmp_path):
    bare = dataclasses.replace(SLUGIFY, path=tmp_path)  # the same issue, no repro_from_issue.py
    tests = [reproduction_test(bare, random.Random(seed)) for seed in range(40)]
    assert not any('== "creme-brulee-a-la-francaise"' in t or '== "~creme' in t for t in tests)
    assert any("still what the issue reports" in t for t in tests) and any("os.path.isdir" in t for t in tests)


@pytest.mark.subprocess  # two pytest runs, one for every bundled task's base state, one for its fix
def test_each_bundled_tasks_test_from_its_issue_fails_on_the_bug_and_passes_with_the_fix(tmp_path):
    states = {}
    for state in ("base", "gold"):
        for task in DEMO_TASKS:
            repo = tmp_path / state / task.name
            shutil.copytree(task / "repo", repo, ignore=shutil.ignore_patterns("tests", "__pycache__"))
            shutil.copy(task / REPRO_FROM_ISSUE, repo / f"test_repro_{task.name.replace('-', '_')}.py")
            if state == "gold":
                gold = str((task / "gold.patch").resolve())
                subprocess.run(["git", "apply", gold], cwd=repo, check=True, capture_output=True)
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "--import-mode=importlib", "."],
            cwd=tmp_path / state,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(str(tmp_path / state / t.name) for t in DEMO_TASKS)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        states[state] = run.stdout
    for task in DEMO_TASKS:
        mine = f"{task.name}/test_repro_{task.name.replace('-', '_')}.py::"
        base = [
            line.split()[0] for line in states["base"].splitlines() if mine in line and line[:6] in ("PASSED", "FAILED")
        ]
        gold = [
            line.split()[0] for line in states["gold"].splitlines() if mine in line and line[:6] in ("PASSED", "FAILED")
        ]
        assert "FAILED" in base, (task.name, states["base"][-2000:])
        assert gold and set(gold) == {"PASSED"}, (task.name, states["gold"][-2000:])


class _Box:
    """A sandbox double whose pytest runs answer from the test files' markers: a file holding
    ``HANG`` hangs (the run times out), ``PASS`` passes, anything else fails."""

    def __init__(self):
        self.files, self.runs = {}, []

    def write(self, path, text):
        self.files[path] = text

    def run(self, command, timeout):
        paths = [word for word in command.split() if word in self.files]
        self.runs.append(paths)
        if any("HANG" in self.files[p] for p in paths):
            return SimpleNamespace(output="", timed_out=True, exit_code=-1)
        lines = [f"{'PASSED' if 'PASS' in self.files[p] else 'FAILED'} {p}::test_it" for p in paths]
        return SimpleNamespace(output="\n".join(lines), timed_out=False, exit_code=0)


def _checker(answers):
    answers = iter(answers)
    session = SimpleNamespace(
        config=SearchConfig(repro_tests=3, timeout=7.0),
        task=SLUGIFY,
        policy=SimpleNamespace(ask_usage=lambda prompt, temperature: (next(answers), 1, 1)),
    )
    return Checker(session)


def test_a_generated_test_that_hangs_on_the_base_state_loses_only_its_own_verdict_and_says_why():
    box = _Box()
    tests, _, _ = _checker(["def test_it():  # HANG", "def test_it(): ...", "def test_it():  # PASS"])._write_tests(box)
    by_id = {t["id"]: t for t in tests}
    assert [t["id"] for t in tests if t["kept"]] == ["t2"]  # the one that fails on the bug is still kept
    assert by_id["t1"]["reason"] == "it timed out after 7 s on the base state (a test that hangs says nothing)"
    assert "passes on the base state" in by_id["t3"]["reason"]
    assert len(box.runs) == 4 and all(len(r) == 1 for r in box.runs[1:])  # all at once, then each alone


def test_a_kept_test_that_hangs_on_a_candidate_fails_that_candidate_and_no_other_test():
    box = _Box()
    kept = [{"id": "t1", "source": "def test_it():  # PASS"}, {"id": "t2", "source": "def test_it():  # HANG"}]
    outcomes, hung, _ = _checker([])._run_tests(box, kept)
    assert outcomes == {"t1": True} and hung == {"t2"}  # t1 keeps its verdict; t2 counts as not passed
    box.runs.clear()
    outcomes, hung, _ = _checker([])._run_tests(box, kept[:1])
    assert outcomes == {"t1": True} and not hung and len(box.runs) == 1  # no hang: one run for them all


@pytest.mark.slow  # a sandbox runs pytest six times (about 5 s on an idle machine)
def test_only_tests_that_fail_on_the_base_state_are_kept_and_each_patch_is_checked_once(tmp_path):
    again = SLUGIFY.gold_patch.replace("index 7aa95fc..20d04b9 100644\n", "").replace(
        "@@ -9,8 +9,8 @@", "@@ -9,8 +9,8 @@ x"
    )
    session = checked_run(
        tmp_path,
        [RIGHT_TEST, VACUOUS_TEST, NO_TEST, "```python\ndef test_broken(:\n```"],
        [("n1", BREAKS, 0.9), ("n2", SLUGIFY.gold_patch, 0.4), ("n3", again, 0.3)],
    )
    tree = session.tree
    tests = {t["id"]: t for t in tree.checks["tests"]}
    assert [t for t in tests if tests[t]["kept"]] == ["t1"]  # the right test fails on the bug
    assert "passes on the base state" in tests["t2"]["reason"]
    assert "no test function" in tests["t3"]["reason"]
    assert "it does not run" in tests["t4"]["reason"]  # it does not even import: it reproduces nothing
    assert all(len(t.get("base_output", "")) <= MAX_EXCERPT + 3 for t in tests.values())
    assert tree.checks["visible"]["passed"] == 5
    assert tree.tokens_in > 0  # the requests for tests are in the token budget
    facts = {n: tree.nodes[n].extra["checks"] for n in ("n1", "n2", "n3")}
    assert facts["n2"]["repro"] == {"t1": True} and facts["n2"]["n_regressions"] == 0
    assert facts["n1"]["repro"] == {"t1": True} and facts["n1"]["n_regressions"] == 2  # fixed, and broke two
    assert facts["n1"]["regressions"] == ["tests/test_slug.py::test_basic", "tests/test_slug.py::test_unique_slug"]
    chosen, _ = select_tests(tree)
    assert chosen == "n2" and select_prm(tree)[0] == "n1"
    # the fix submitted again at another node (other index and hunk lines): its checks come from the cache
    assert facts["n3"]["cached"] is True and facts["n3"]["repro"] == facts["n2"]["repro"]
    assert facts["n1"]["cached"] is False and facts["n2"]["cached"] is False
    assert len(tree.checked) == 2  # two distinct patches were run


def test_an_export_repeats_the_selection_by_checks_the_run_recorded():
    events = _events({"a": (0.9, {"t1": False}, 0, {}), "b": (0.1, {"t1": True}, 0, {})}, ["t1"])
    tree = Tree.fold(events)
    assert select_recorded(tree)[0] == "b" and select_prm(tree)[0] == "a"
    without = Tree.fold([e for e in events if e["type"] not in ("checks_prepared", "candidate_checked")])
    assert select_recorded(without)[0] == "a"  # a run without checks: the PRM, as before


def test_a_regression_is_a_base_pass_that_fails_or_vanishes_but_not_a_skip_or_a_cut_short_run():
    base = {"a", "b", "c", "d"}
    visible = {"a": True, "b": False, "c": None}  # d is missing: it no longer imports
    assert regressions(base, visible, timed_out=False) == ["b", "d"]
    assert regressions(base, visible, timed_out=True) == ["b"]  # a run cut short says nothing of d


def test_select_and_the_checks_are_spec_fields_with_a_default_that_follows_the_model():
    from trajscope.engine.spec import SearchSpec, SpecError

    assert SearchSpec().selector_name() == "prm" and not SearchSpec().search_config().checks  # the demo policy
    with_model = SearchSpec(model="openai/x")
    assert with_model.selector_name() == "tests" and with_model.search_config().checks
    assert SearchSpec(model="openai/x", select="prm").search_config().checks is False
    assert SearchSpec(select="prm", checks=True).search_config().checks  # on by name with another selector
    with pytest.raises(SpecError, match="at least 0"):
        SearchSpec(repro_tests=-1)
