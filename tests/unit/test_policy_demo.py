"""The demo policy: its bank of actions, its stages, and determinism per seed."""

from __future__ import annotations

import random

import pytest

from trajscope.engine.tools import execute
from trajscope.engine.policy.base import Context, PolicyError, Step
from trajscope.engine.policy.demo import NAME, Bank, DemoPolicy, next_action, patch_edits, undo
from trajscope.engine.tasks import Task, load_task_dir
from trajscope.engine.verification import apply_patch
from tests.conftest import DEMO_TASKS


@pytest.mark.parametrize("task_dir", DEMO_TASKS, ids=lambda p: p.name)
@pytest.mark.slow
def test_the_bank_edits_reproduce_the_right_and_the_wrong_fix(task_dir):
    task = load_task_dir(task_dir)
    bank = Bank.for_task(task)
    assert bank.gold and bank.wrong and bank.files
    for edits, patch in ((bank.gold, task.gold_patch), (bank.wrong, (task_dir / "wrong.patch").read_text())):
        with task.open_sandbox("local") as by_edits, task.open_sandbox("local") as by_patch:
            for edit in edits:
                assert execute(edit, by_edits).exit_code == 0, edit
            apply_patch(by_patch, patch)
            for path in bank.files:
                assert by_edits.read(path) == by_patch.read(path)
            for edit in reversed(edits):  # and each undo takes its edit back
                assert execute(undo(edit), by_edits).exit_code == 0
            assert by_edits.diff() == ""


def test_patch_edits_handle_new_files_and_several_hunks():
    patch = (
        "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n x\n-y\n+z\n"
        "@@ -9,2 +9,2 @@ def f():\n p\n-q\n+r\n"
        "diff --git a/n.py b/n.py\nnew file mode 100644\n--- /dev/null\n+++ b/n.py\n@@ -0,0 +1 @@\n+new\n"
    )
    edits = patch_edits(patch)
    assert [(e.tool, e.args) for e in edits] == [
        ("str_replace", {"path": "a.py", "old": "x\ny\n", "new": "x\nz\n"}),
        ("str_replace", {"path": "a.py", "old": "p\nq\n", "new": "p\nr\n"}),
        ("create", {"path": "n.py", "content": "new\n"}),
    ]


def _walk(task, policy, turns=8):
    steps = []
    for _ in range(turns):
        proposal = policy.propose(Context(task, steps))[0]
        steps.append(Step(proposal.action, proposal.thought, "", 0))
        if proposal.action.tool == "submit":
            break
    return [s.action.to_dict() for s in steps]


def test_draws_are_seeded_and_differ_across_seeds():
    task = load_task_dir(DEMO_TASKS[0])
    assert _walk(task, DemoPolicy(seed=1)) == _walk(task, DemoPolicy(seed=1))
    assert len({str(_walk(task, DemoPolicy(seed=s))) for s in range(8)}) > 2
    proposal = DemoPolicy(seed=1).propose(Context(task))[0]
    assert proposal.model == NAME == "demo policy" and proposal.tokens_in == 0


def test_stages_explore_then_fix_then_test_then_submit():
    task = load_task_dir(DEMO_TASKS[0])
    bank = Bank.for_task(task)
    rng = random.Random(0)
    first = next_action(bank, [], rng, 1.0)[1]
    assert first.tool in ("view", "search", "bash") and first != bank.gold[0]
    explored = [Step(a, "", "", 0) for _, a in bank.explore[:2]]
    fix = next_action(bank, explored, random.Random(5), 1.0)[1]
    after_fix = explored + [Step(bank.gold[i], "", "", 0) for i in range(len(bank.gold))]
    tested = after_fix + [Step(bank.test, "", "5 passed", 0)]
    assert fix in bank.gold or fix.tool in ("view", "search", "bash")
    assert next_action(bank, tested, rng, 1.0)[1].tool == "submit"
    wrong = explored + [Step(e, "", "", 0) for e in bank.wrong] + [Step(bank.test, "", "1 failed", 1)]
    choices = {next_action(bank, wrong, random.Random(s), 0.0)[1].tool for s in range(30)}
    assert choices == {"str_replace", "submit"}  # undo the wrong fix, or submit anyway


def test_a_task_without_a_reference_fix_is_a_clear_error():
    with pytest.raises(PolicyError, match="needs a reference fix"):
        DemoPolicy().propose(Context(Task("x__y-1", "issue")))


def test_hints_make_the_right_fix_likelier():
    task = load_task_dir(DEMO_TASKS[0])
    bank = Bank.for_task(task)
    steps = [Step(a, "", "", 0) for _, a in bank.explore]

    def right(hint):
        picks = [DemoPolicy(seed=s, p_right=0.3).propose(Context(task, steps, hint=hint))[0].action for s in range(60)]
        return sum(any(p.args == g.args for g in bank.gold) for p in picks)

    assert right("the bug is in the normalisation") > right(None)


def test_the_reproduction_is_the_issues_example_not_the_hidden_tests():
    from trajscope.engine.policy.demo import reproduction
    from trajscope.engine.tasks import load_task_dir
    from tests.conftest import DEMO_TASKS

    for path in DEMO_TASKS:
        task = load_task_dir(path)
        repro = reproduction(task)
        if repro is None:
            continue
        script = repro.args["command"]
        hidden = [t.rsplit("::", 1)[-1].split("[")[0] for t in task.FAIL_TO_PASS + task.PASS_TO_PASS]
        assert not any(name in script for name in hidden), (path.name, script)
        assert "def test_" not in script and "import pytest" not in script
        first = script.splitlines()[1]
        assert first in task.problem_statement  # the issue's own first line (an import)
    semver = load_task_dir(next(p for p in DEMO_TASKS if p.name == "semver-prerelease"))
    script = reproduction(semver).args["command"]
    assert 'compare("2.1.0-alpha.10", "2.1.0-alpha.2")' in script
    assert "assert repr(got) != '-1'" in script  # the wrong result the issue reports is checked
