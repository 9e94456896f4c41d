"""Rubric flag detectors (each with traces that raise it and traces that do not, including the
real fixtures), flag statistics on a small known set, failure clusters (the command line is in
tests/e2e/test_analyze_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trajscope.engine.actions import make_action
from trajscope.engine.analysis.flags import detect, trajectories
from trajscope.engine.analysis.stats import clusters, collect, flag_rates
from trajscope.engine.formats import load
from trajscope.engine.formats.builder import RunBuilder
from trajscope.engine.events import read_events
from trajscope.engine.tree import Tree
from tests.conftest import DEMO_RUN, REAL

VIEW = ("view", {"path": "calc/ops.py"}, "1 def divide(a, b):\n2     return a / b\n", 0)
SEARCH = ("search", {"pattern": "divide"}, "calc/ops.py:1:def divide(a, b):", 0)
REPRO = ("bash", {"command": "python repro.py"}, "ZeroDivisionError: division by zero", 1)
EDIT = (
    "str_replace",
    {"path": "calc/ops.py", "old_str": "return a / b", "new_str": "return a / b if b else 0"},
    "Edited calc/ops.py.",
    0,
)
BAD_EDIT = (
    "str_replace",
    {"path": "calc/ops.py", "old_str": "return a//b", "new_str": "x"},
    "The text 'return a//b' was not found in calc/ops.py; copy the lines exactly.",
    1,
)
TESTS_FAIL = ("bash", {"command": "python -m pytest -q"}, "1 failed, 3 passed in 0.1s", 1)
TESTS_PASS = ("bash", {"command": "python -m pytest -q"}, "4 passed in 0.1s", 0)
TEST_EDIT = (
    "str_replace",
    {"path": "tests/test_ops.py", "old_str": "assert", "new_str": "# assert"},
    "Edited tests/test_ops.py.",
    0,
)
SUBMIT = ("submit", {}, "diff --git a/calc/ops.py b/calc/ops.py", 0)


def trace(*steps, resolved: bool | None = None) -> tuple[Tree, str]:
    builder = RunBuilder("t", {"instance_id": "calc-1"}, "test")
    parent = None
    for tool, args, observation, code in steps:
        parent = builder.turn(parent, make_action(tool, args), observation=observation, exit_code=code)
    if resolved is not None:
        builder.submit(parent, "diff", {"resolved": resolved, "passed": [], "failed": []})
    return Tree.fold(builder.finish("done")), parent


def names(*steps, **kw) -> dict[str, list[str]]:
    tree, leaf = trace(*steps, **kw)
    return {f.name: f.steps for f in detect(tree, leaf)}


def test_memory_drift():
    assert names(VIEW, BAD_EDIT)["memory_drift"] == ["2"]
    assert names(VIEW, SEARCH, VIEW)["memory_drift"] == ["3"]  # re-read with no change between
    assert "memory_drift" not in names(VIEW, EDIT, VIEW)  # re-read after an edit of that file
    assert "memory_drift" not in names(VIEW, SEARCH, EDIT, TESTS_PASS)


def test_overconfidence():
    assert names(VIEW, EDIT, SUBMIT)["overconfidence"] == ["2", "3"]  # the edit never ran
    assert names(VIEW, EDIT, TESTS_FAIL, SUBMIT)["overconfidence"] == ["3", "4"]
    assert "overconfidence" not in names(VIEW, EDIT, TESTS_PASS, SUBMIT)
    assert "overconfidence" not in names(VIEW, EDIT, TESTS_FAIL)  # did not submit


def test_strange_behaviour():
    assert names(VIEW, SEARCH, SEARCH)["strange_behaviour"] == ["3"]  # the same action twice in a row
    assert names(SEARCH, VIEW, SEARCH, EDIT, SEARCH)["strange_behaviour"] == ["1", "3", "5"]  # three times
    assert names(VIEW, TEST_EDIT, TESTS_PASS)["strange_behaviour"] == ["2"]  # edited the project's tests
    assert "strange_behaviour" not in names(VIEW, SEARCH, EDIT, TESTS_PASS, SUBMIT)


def test_self_correction_validation_and_planning():
    fixed = names(SEARCH, VIEW, REPRO, EDIT, TESTS_FAIL, EDIT, TESTS_PASS, SUBMIT)
    assert fixed["self_correction"] == ["5", "6", "7"]
    assert fixed["validation"] == ["7"] and fixed["planning"] == ["1", "3"]
    sloppy = names(EDIT, TESTS_FAIL, SUBMIT)
    assert not {"self_correction", "validation", "planning"} & set(sloppy)


def test_real_fixtures():
    # mini-swe-agent: it rewrote the file with cat > … and submitted without running it again
    tree = Tree.fold(load(REAL / "mini-swe-agent" / "github_issue.traj.json").events)
    [leaf] = trajectories(tree)
    flags = {f.name: f.steps for f in detect(tree, leaf)}
    assert flags["overconfidence"] == ["9", "10"] and "memory_drift" not in flags  # a re-read after sed -i
    assert flags["planning"] == ["1", "2"]
    # SWE-agent (no exit codes): the reproduction ran after the last edit and printed no error
    tree = Tree.fold(load(REAL / "swe-agent" / "marshmallow-1867.function_calling_replace.traj").events)
    [leaf] = trajectories(tree)
    flags = {f.name: f.steps for f in detect(tree, leaf)}
    assert flags["validation"] == ["9"] and "overconfidence" not in flags
    assert flags["planning"] == ["5", "3"]  # the fix came after find_file and the reproduction


def known_set():
    runs = [
        trace(VIEW, EDIT, SUBMIT, resolved=False),
        trace(VIEW, BAD_EDIT, EDIT, SUBMIT, resolved=False),
        trace(VIEW, BAD_EDIT, EDIT, TESTS_PASS, SUBMIT, resolved=True),
        trace(SEARCH, VIEW, REPRO, EDIT, TESTS_PASS, SUBMIT, resolved=True),
        trace(VIEW, EDIT, TESTS_FAIL, SUBMIT, resolved=False),
    ]
    return [t for i, (tree, _) in enumerate(runs) for t in collect(tree, f"run{i}")]


def test_flag_rates_on_a_known_set():
    report = flag_rates(known_set())
    assert report["trajectories"] == {"resolved": 2, "failed": 3, "unknown": 0}
    drift, over = report["flags"]["memory_drift"], report["flags"]["overconfidence"]
    assert (drift["resolved"]["count"], drift["failed"]["count"]) == (1, 1)
    assert drift["failed_over_resolved"] == round((1 / 3) / (1 / 2), 2)
    assert (over["resolved"]["count"], over["failed"]["count"]) == (0, 3) and over["failed_over_resolved"] is None
    assert report["flags"]["validation"]["resolved"]["rate"] == 1.0


@pytest.mark.slow
def test_clusters_group_every_failure_once():
    groups = clusters(known_set(), k=2)
    members = sorted(m for g in groups for m in g["members"])
    assert members == ["run0#3", "run1#4", "run4#4"] and all(g["label"] for g in groups)
    assert clusters(known_set(), k=2) == groups  # seeded


@pytest.mark.slow
def test_llm_judge_tags_with_a_rationale_per_flag_and_survives_garbage():
    from trajscope.engine.policy.llm import LLMPolicy
    from tests.fake_llm import FakeLLM, Scripted, reply
    from trajscope.engine.analysis.report import analyze

    verdict = {
        f: {"present": f == "memory_drift", "rationale": f"seen at step 2 ({f})"}
        for f in ("memory_drift", "overconfidence", "strange_behaviour", "self_correction", "validation", "planning")
    }
    answer = "Here is my verdict:\n" + json.dumps(verdict)
    with FakeLLM(Scripted([reply(text=answer)])) as server:
        report = analyze([str(DEMO_RUN)], judge=LLMPolicy("openai/judge", api_base=server.url))
        prompt = server.requests[0]["messages"][0]["content"]
    assert "memory_drift:" in prompt and "[#" in prompt  # the rubric text and the numbered trace
    judged = report["judge"]
    assert judged["unreadable"] == 0 and judged["flags"]["memory_drift"]["resolved"]["rate"] == 1.0
    assert judged["flags"]["planning"]["failed"]["count"] == 0
    first = report["per_trajectory"][0]["judge"]
    assert first["flags"] == {"memory_drift": "seen at step 2 (memory_drift)"} and first["error"] is None
    with FakeLLM(Scripted([reply(text="I cannot tell.")])) as server:
        report = analyze([str(DEMO_RUN)], judge=LLMPolicy("openai/judge", api_base=server.url))
    assert report["judge"]["unreadable"] == len(report["per_trajectory"])
    assert "unreadable" in report["per_trajectory"][0]["judge"]["error"]
    assert report["flags"]["planning"]["resolved"]["count"] >= 1  # the detectors still count


def test_flag_checkpoints_give_what_a_walk_from_the_task_gives():
    from trajscope.engine.analysis.flags import FlagCache
    from trajscope.engine.synthetic import synthetic_events

    for tree in (Tree.fold(read_events(DEMO_RUN)), Tree.fold(list(synthetic_events(1500, seed=5)))):
        built, lazy = FlagCache(tree, every=4), FlagCache(tree, every=4)
        built.build()
        for node_id in list(tree.nodes)[1:]:
            expected = [f.to_json() for f in detect(tree, node_id)]
            assert [f.to_json() for f in built.flags_at(node_id)] == expected
            assert [f.to_json() for f in lazy.flags_at(node_id)] == expected
        assert built.states and lazy.states


CREATE_REPRO = (
    "create",
    {"path": "tests/test_repro.py", "content": "from calc.ops import divide\ndivide(1, 0)\n"},
    "File created successfully at: tests/test_repro.py",
    0,
)
EDIT_REPRO = (
    "str_replace",
    {"path": "tests/test_repro.py", "old_str": "divide(1, 0)", "new_str": "print(divide(1, 0))"},
    "Edited tests/test_repro.py.",
    0,
)
RUN_REPRO = ("bash", {"command": "python tests/test_repro.py"}, "0", 0)
# as the DARS and SWE-agent importers read these commands (action_from_command)
OPEN_TESTS = ("open", {"command": "open tests/test_ops.py"}, "[File: tests/test_ops.py (12 lines total)]", 0)
WINDOWED_EDIT = ("edit", {"command": "edit 3:3\n    assert True\nend_of_edit"}, "File updated.", 0)


def test_a_test_script_the_agent_created_is_not_the_projects_tests():
    # its own reproduction script named test_*.py, created then edited: not an edit of the project's tests
    assert "strange_behaviour" not in names(VIEW, CREATE_REPRO, EDIT_REPRO, RUN_REPRO, EDIT, TESTS_PASS)
    # a test file that was there (never created on this path) still counts, also through the windowed
    # editor, whose edit names no file: it changes the one ``open`` opened
    assert names(VIEW, CREATE_REPRO, TEST_EDIT, TESTS_PASS)["strange_behaviour"] == ["3"]
    from trajscope.engine.actions import action_from_command

    assert action_from_command(WINDOWED_EDIT[1]["command"])["tool"] == "edit"
    tree, leaf = trace(VIEW, OPEN_TESTS, WINDOWED_EDIT, TESTS_PASS)
    assert tree.nodes["3"].kind == "edit"
    assert {f.name: f.steps for f in detect(tree, leaf)}["strange_behaviour"] == ["3"]


def test_the_real_dars_runs_own_test_script_is_not_flagged():
    # DARS (SWE-agent's windowed editor): ``create test_fits_replace.py``, then append and edit it
    tree = Tree.fold(load(REAL / "dars" / "edit.prev.root").events)
    created = [n.id for n in tree.nodes.values() if n.kind == "create"]
    assert created and "test_fits_replace.py" in str(tree.nodes[created[0]].action)
    for leaf in trajectories(tree):
        path = [n.id for n in tree.path(leaf)]
        scripted = {n for n in path if n in created or tree.nodes[n].kind in ("append", "edit")}
        flagged = {f.name: f.steps for f in detect(tree, leaf)}.get("strange_behaviour", [])
        assert not scripted & set(flagged) - _repeats(tree, path), (leaf, flagged)


def _repeats(tree: Tree, path: list[str]) -> set[str]:
    """Steps flagged for being the same action as another (the other half of strange_behaviour)."""
    from trajscope.engine.prm.features import signature
    from trajscope.engine.trace import Step
    from trajscope.engine.actions import Action

    sigs = [signature(Step(Action.from_dict(tree.nodes[n].action or {}), "", "", None)) for n in path[1:]]
    return {n for n, s in zip(path[1:], sigs) if sigs.count(s) > 1}


def test_the_html_report_of_runs_without_verdicts_is_not_empty(tmp_path):
    """Imported runs carry no verdict: the page used to drop the unverified column and show only
    0% bars, '—' and 'No failed trajectory'. Now it has the column, rates over all trajectories,
    flagged examples with the command that opens each run, the files it could not read, and it
    says why there are more trajectories than runs. Real runs of SWE-agent, mini-swe-agent and DARS."""
    import re
    import shutil

    from trajscope.engine.analysis.report import analyze, html_report

    for name in (
        "swe-agent/marshmallow-1867.function_calling_replace.traj",
        "mini-swe-agent/github_issue.traj.json",
        "dars/edit.prev.root",
    ):
        shutil.copy(REAL / name, tmp_path / name.split("/")[1])
    (tmp_path / "broken.traj").write_text('{"trajectory": [{"action": "ls", "observ')
    report = analyze([str(tmp_path)])
    counts = report["trajectories"]
    assert counts["resolved"] == counts["failed"] == 0 and counts["unknown"] == sum(counts.values()) > len(
        report["runs"]
    )
    page = html_report(report)
    header = re.search(r"<tr><th>flag</th>(.*?)</tr>", page).group(1)
    assert "<th>in unverified</th>" in header and "<th>in all</th>" in header
    planning = re.search(r"<tr><td>planning</td>(.*?)</tr>", page).group(1)
    assert re.search(r"<td>[1-9]\d*% \(\d+/\d+\)</td>", planning), planning  # a rate, not only 0% and —
    assert f"{sum(counts.values())} trajectories in 3 runs" in page and "one per\nleaf" in page
    assert "Flagged examples" in page and "No failed trajectory" in page  # says why there is no cluster
    for run in report["runs"]:  # each run links to its file and gives the command line that opens it
        assert f"trajscope open {run['file']}" in page and Path(run["file"]).resolve().as_uri() in page
    examples = page[page.index("Flagged examples") : page.index("Failure clusters")]
    assert "trajscope open " in examples and "raised it" in examples
    assert "Not read (1)" in page and "broken.traj" in page


def test_cluster_labels_are_whole_where_they_are_listed():
    from trajscope.engine.analysis.report import html_report

    label = "validation, strange_behaviour, overconfidence, memory_drift"
    report = {
        "trajectories": {"resolved": 0, "failed": 1, "unknown": 0},
        "runs": [],
        "unread": [],
        "flags": {
            f: {k: {"count": 0, "of": 1, "rate": 0.0} for k in ("all", "resolved", "failed", "unknown")}
            | {"failed_over_resolved": None}
            for f in ("planning",)
        },
        "clusters": [{"label": label, "size": 1, "members": ["r#1"]}],
        "per_trajectory": [],
    }
    page = html_report(report)
    assert f"<title>{label} (1)</title>" in page  # the chart's cut label carries the whole one
    assert f"<b>{label}</b>" in page
