"""Importers: each real fixture, and the older layouts built from them."""

import json
import os

import pytest

from trajscope.engine.formats import FormatError, load
from trajscope.engine.formats.collection import find_runs
from trajscope.engine.tree import ROOT, Tree
from tests.support import independent_counts
from tests.conftest import REAL, REAL_FILES


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_real_fixture_counts_match_the_raw_file(path):
    runs = find_runs(path)  # a multi-run file: every run in it
    for ref in runs:
        stats = Tree.fold(ref.load().events).stats()
        expected = independent_counts(path, ref.line)
        assert {k: stats[k] for k in expected} == expected, ref.name


def test_formats_are_detected_by_content_not_name(tmp_path):
    source = REAL / "dars" / "edit.prev.root"
    renamed = tmp_path / "whatever.txt"
    renamed.write_bytes(source.read_bytes())
    assert load(renamed).format == "dars"


def test_swe_agent_current_layout_keeps_actions_patch_and_exit_status():
    loaded = load(REAL / "swe-agent" / "marshmallow-1867.function_calling_replace.traj")
    tree = Tree.fold(loaded.events)
    assert loaded.format == "swe-agent"
    assert tree.title == "marshmallow-code__marshmallow-1867"
    assert "TimeDelta serialization precision" in tree.nodes[ROOT].observation
    first = tree.nodes["1"]
    assert first.kind == "create" and first.action["raw"] == "create reproduce.py"
    last = tree.nodes[str(len(tree))]
    assert last.kind == "submit" and last.status == "submitted"
    assert last.patch.startswith("diff --git a/src/marshmallow/fields.py")
    assert tree.finished == "submitted"
    assert tree.stats()["cost"] == 0


def test_swe_agent_history_only_demo_uses_tool_calls():
    tree = Tree.fold(load(REAL / "swe-agent" / "function_calling_simple.traj").events)
    kinds = [tree.nodes[str(i)].kind for i in range(1, len(tree) + 1)]
    assert kinds == ["search", "view", "edit", "run", "submit"]
    assert tree.nodes["1"].action["args"] == {"file_name": "missing_colon.py"}
    assert "missing_colon.py" in tree.nodes["5"].patch


def older_swe_agent(tmp_path):
    data = json.loads((REAL / "swe-agent" / "marshmallow-1867.function_calling_replace.traj").read_text())
    for step in data["trajectory"]:
        step["messages"] = [{"role": "assistant", "content": step["response"]}]
        step["state"] = json.dumps(step["state"])
    data["info"]["model_stats"] = {"total_cost": 1.25, "tokens_sent": 1000, "tokens_received": 200}
    return data


def test_swe_agent_older_layout(tmp_path):
    path = tmp_path / "old.traj"
    path.write_text(json.dumps(older_swe_agent(tmp_path)))
    events = load(path).events
    tree = Tree.fold(events)
    assert len(tree) == 11
    stats = tree.stats()
    assert stats["cost"] == 1.25 and stats["tokens"] == 1200
    executed = [e for e in events if e["type"] == "node_executed"]
    assert executed[0]["state"] == {"open_file": "/testbed/reproduce.py", "working_dir": "/testbed"}


def test_swe_agent_retry_attempts_branch_from_the_root(tmp_path):
    attempt = older_swe_agent(tmp_path)
    second = json.loads(json.dumps(attempt))
    second["trajectory"] = second["trajectory"][:4]
    second["info"] = {"exit_status": "exit_cost", "model_stats": {"instance_cost": 0.5}}
    path = tmp_path / "retry.traj"
    path.write_text(json.dumps({"attempts": [attempt, second], "info": {"exit_status": "submitted"}}))
    tree = Tree.fold(load(path).events)
    assert len(tree.children(ROOT)) == 2
    stats = tree.stats()
    assert stats["nodes"] == 15 and stats["branch_points"] == 1 and stats["submissions"] == 1
    assert stats["cost"] == pytest.approx(1.75)


def test_mini_swe_agent_bare_list():
    tree = Tree.fold(load(REAL / "mini-swe-agent" / "github_issue.traj.json").events)
    first = tree.nodes["1"]
    assert first.action["raw"].startswith("cat /Users/fuchur")
    assert first.exit_code == 1 and "No such file" in first.observation
    last = tree.nodes["10"]
    assert last.kind == "submit" and last.status == "submitted"
    assert last.patch.startswith("diff --git a/tests/missing_colon.py")


def test_mini_swe_agent_1_1_dict(tmp_path):
    messages = json.loads((REAL / "mini-swe-agent" / "github_issue.traj.json").read_text())
    for m in messages:
        if m["role"] == "assistant":
            m["extra"] = {"response": {"usage": {"prompt_tokens": 100, "completion_tokens": 10}}, "cost": 0.01}
    data = {
        "info": {
            "exit_status": "Submitted",
            "submission": "diff --git a/x b/x\n",
            "model_stats": {"instance_cost": 0.1, "api_calls": 10},
        },
        "messages": messages,
        "trajectory_format": "mini-swe-agent-1.1",
    }
    path = tmp_path / "run.traj.json"
    path.write_text(json.dumps(data))
    loaded = load(path)
    tree = Tree.fold(loaded.events)
    assert loaded.format == "mini-swe-agent"
    stats = tree.stats()
    assert stats["nodes"] == 10 and stats["tokens"] == 1100
    assert stats["cost"] == pytest.approx(0.1)
    assert tree.nodes["10"].patch == "diff --git a/x b/x\n"
    assert tree.finished == "Submitted"


def test_mini_swe_agent_2_bare_submit_marker_is_a_submission():
    """mini.yaml's workflow ends with the marker alone: an empty submission, but a submission."""
    from trajscope.engine.actions import classify
    from trajscope.engine.analysis.flags import trajectories

    tree = Tree.fold(load(REAL / "mini-swe-agent" / "toolcall_bare_submit.traj.json").events)
    last = tree.nodes[str(len(tree))]
    assert last.action["raw"] == "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
    assert classify(last.action) == "submit" and last.status == "submitted"
    assert tree.stats()["submissions"] == 1 and tree.finished == "Submitted"
    assert trajectories(tree) == [last.id]


def test_dars_branch_keeps_candidates_and_critic():
    tree = Tree.fold(load(REAL / "dars" / "edit.prev.root").events)
    branch_point = next(n for n in tree.nodes if tree.n_children(n) > 1)
    assert tree.nodes[branch_point].action["raw"] == "python test_fits_replace.py"
    original, expanded = tree.children(branch_point)
    assert tree.nodes[original].candidates is None
    node = tree.nodes[expanded]
    assert node.kind == "edit" and len(node.candidates) == 3
    assert node.critic["prompt"].startswith("You are an AI system tasked with selecting")
    assert node.critic["response"].startswith("DISCUSSION")
    assert "Possible bug in io.fits" in tree.nodes[ROOT].observation


def test_dars_evaluation_results_are_verified_submissions():
    tree = Tree.fold(load(REAL / "dars" / "overall_evaluation_results.json").events)
    stats = tree.stats()
    assert stats["submissions"] == 12 and stats["resolved"] == 6


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "is empty"),
        (b"   \n", "is empty"),
        (b'{"trajectory": [', "truncated or invalid JSON"),
        (b'{"hello": "world"}', "not a format trajscope knows"),
        (b"\x7fELF\x02\x01\x00\x00binary", "binary file"),
        (b"just some words\n", "is not JSON"),
    ],
)
def test_unreadable_files_give_one_clear_sentence(tmp_path, content, message):
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=message) as info:
        load(path)
    assert "\n" not in str(info.value)


def test_damaged_known_format_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.root"
    path.write_text(json.dumps({"root": {"role": "system", "children": [{"role": "assistant", "children": 5}]}}))
    with pytest.raises(FormatError, match="damaged"):
        load(path)


def test_an_openhands_events_folder_is_one_run(tmp_path):
    events = json.loads((REAL / "openhands" / "basic.json").read_text())
    folder = tmp_path / "sessions" / "abc123" / "events"
    folder.mkdir(parents=True)
    for event in events:
        (folder / f"{event['id']}.json").write_text(json.dumps(event))
    (folder / "7.json").write_text('{"id": 7, "source": "agent", "act')  # one damaged event file
    refs = find_runs(tmp_path)
    assert len(refs) == 1 and refs[0].folder and refs[0].name == "abc123"
    folded = Tree.fold(refs[0].load().events).stats()
    direct = Tree.fold(load(REAL / "openhands" / "basic.json").events).stats()
    assert {k: folded[k] for k in ("nodes", "submissions")} == {k: direct[k] for k in ("nodes", "submissions")}


def test_damaged_lines_of_an_evaluation_output_each_end_in_one_sentence(tmp_path):
    good = (REAL / "openhands" / "multi_swe_bench.output.jsonl").read_text().splitlines()[0]
    lines = [
        good,
        good[: len(good) // 2],
        "not json at all",
        json.dumps({"instance_id": "x", "history": [1, "a", None]}),
        json.dumps(
            {
                "instance_id": "y",
                "history": [
                    {"id": 1, "source": "agent", "action": 5, "args": []},
                    {"id": 2, "observation": [], "content": {}, "cause": 1},
                ],
            }
        ),
    ]
    path = tmp_path / "output.jsonl"
    path.write_text("\n".join(lines) + "\n")
    refs = find_runs(path)
    assert len(refs) == 5 and refs[0].name == "ponylang__ponyc-4595"
    assert Tree.fold(refs[0].load().events).stats()["nodes"] == 23
    for ref in refs[1:]:
        with pytest.raises(FormatError) as caught:
            ref.load()
        message = str(caught.value)
        assert f"line {ref.line + 1}" in message and "\n" not in message and "Traceback" not in message


def test_older_moatless_nodes_with_one_action_and_output_read_the_same(tmp_path):
    data = json.loads((REAL / "moatless" / "trajectory.json").read_text())
    stack = [data["root"]]
    while stack:  # the older layout: the one step on the node itself
        node = stack.pop()
        steps = node.pop("action_steps")
        if steps:
            node["action"], node["output"] = steps[0]["action"], steps[0]["observation"]
        stack.extend(node["children"])
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    old = Tree.fold(load(path).events)
    new = Tree.fold(load(REAL / "moatless" / "trajectory.json").events)
    keep = ("nodes", "branch_points", "submissions", "pruned")
    assert {k: old.stats()[k] for k in keep} == {k: new.stats()[k] for k in keep}
    best = max((n for n in new.nodes.values() if n.kind == "submit"), key=lambda n: n.score)
    assert best.score == 0.975 and best.extra["imported"]["reward"] == 95 and "return a + b" in best.patch
    assert [n.status for n in new.nodes.values() if (n.extra.get("imported") or {}).get("is_duplicate")] == ["pruned"]


def test_one_bad_file_does_not_stop_a_folder_from_listing(tmp_path):
    import shutil

    shutil.copy(REAL / "openhands" / "multi_swe_bench.output.jsonl", tmp_path / "output.jsonl")
    shutil.copy(REAL / "mini-swe-agent" / "toolcall_submitted.traj.json", tmp_path / "a.traj.json")
    (tmp_path / "damaged.jsonl").write_bytes(b'{"history": [1, \n')
    os.mkfifo(tmp_path / "pipe.jsonl")  # never opened for a read that could wait
    refs = find_runs(tmp_path)
    assert sorted(r.name for r in refs) == sorted(
        ["a", "damaged", "ponylang__ponyc-4595", "ponylang__ponyc-4593", "ponylang__ponyc-4588"]
    )
    damaged = next(r for r in refs if r.name == "damaged")
    with pytest.raises(FormatError, match="damaged.jsonl"):
        damaged.load()


def test_fifos_named_like_reports_never_hold_the_listing(tmp_path):
    import threading

    from trajscope.engine.formats.collection import find_verdicts

    shutil_copy = __import__("shutil").copy
    shutil_copy(REAL / "mini-swe-agent" / "toolcall_submitted.traj.json", tmp_path / "a.traj.json")
    for name in ("results.json", "model.run1.json", "b.traj.json"):
        os.mkfifo(tmp_path / name)
    found: dict = {}
    worker = threading.Thread(
        target=lambda: found.update(runs=find_runs(tmp_path), verdicts=find_verdicts(tmp_path)), daemon=True
    )
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "a FIFO held the listing"
    assert [r.name for r in found["runs"]] == ["a"] and found["verdicts"] == {}


def test_moatless_transitions_open_as_a_linear_run():
    """MoatlessTools' older layout: one node per action, the task from info, the submission at the end."""
    tree = Tree.fold(load(REAL / "moatless" / "transitions.django__django-9296.json").events)
    assert tree.task["instance_id"] == "django__django-9296" and tree.n_branch_points == 0
    path = [tree.nodes[n] for n in tree.preorder() if n != ROOT]
    assert [n.kind for n in path] == ["search", "view", "view", "run", "edit"]
    assert "Paginator" in tree.task["problem_statement"] and "paginator.py" in path[0].action["raw"]
    assert path[-1].status == "submitted" and path[-1].patch.startswith("diff --git a/django/core/paginator.py")
    finished = Tree.fold(load(REAL / "moatless" / "transitions.django__django_16379.json").events)
    last = finished.nodes[str(len(finished))]
    assert last.kind == "submit" and finished.stats()["submissions"] == 0
    assert finished.finished == "Finished (the file records no submission)"


def test_dars_trees_of_one_instance_share_one_task_read_from_their_content(tmp_path):
    """DARS writes one tree per expansion kind and records no instance id: the file name named
    one task per file; the content (repository and issue) names one task for all."""
    for name in ("none.prev.root", "edit.prev.root"):
        (tmp_path / name).write_bytes((REAL / "dars" / name).read_bytes())
    tasks = {Tree.fold(ref.load().events).title for ref in find_runs(tmp_path)}
    assert len(tasks) == 1
    task = tasks.pop()
    assert task.startswith("astropy__astropy:") and "prev" not in task


def test_instance_names_the_task_of_files_that_record_none_so_verdicts_match(tmp_path, capsys):
    from trajscope.tui.cli import main

    report = tmp_path / "report.json"
    report.write_text(json.dumps({"marshmallow-code__marshmallow-1867": {"resolved": True}}))
    traj = REAL / "swe-agent" / "function_calling_simple.traj"  # no replay config: no instance recorded
    assert main(["stats", str(traj), "--report", str(report), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["resolved"] == 0
    assert (
        main(
            ["stats", str(traj), "--report", str(report), "--instance", "marshmallow-code__marshmallow-1867", "--json"]
        )
        == 0
    )
    stats = json.loads(capsys.readouterr().out)
    assert stats["task"] == "marshmallow-code__marshmallow-1867" and stats["resolved"] == 1
    folder = tmp_path / "dars"
    folder.mkdir()
    for name in ("none.prev.root", "edit.prev.root"):
        (folder / name).write_bytes((REAL / "dars" / name).read_bytes())
    (folder / "report.json").write_text(json.dumps({"astropy__astropy-7606": {"resolved": False}}))
    assert main(["stats", str(folder), "--instance", "astropy__astropy-7606", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["runs"]
    assert {r["task"] for r in rows} == {"astropy__astropy-7606"}
    # a file that records its own instance keeps it
    own = REAL / "swe-agent" / "marshmallow-1867.function_calling_replace.traj"
    assert main(["stats", str(own), "--instance", "other__other-1", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["task"] == "marshmallow-code__marshmallow-1867"
    assert "records its own instance" in captured.err
