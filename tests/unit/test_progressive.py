"""Reading a file in parts (engine/formats/progressive.py): the parts hold exactly the
events of a whole read, the first comes before the rest is read, and the raw document is
never held beside the tree."""

from __future__ import annotations

import copy
import json
import tracemalloc

import pytest

from trajscope.engine.events import write_events
from trajscope.engine.formats import FormatError, load
from trajscope.engine.formats import progressive
from trajscope.engine.formats.progressive import read_parts
from trajscope.engine.synthetic import linear_events, synthetic_events
from trajscope.engine.tree import Tree
from tests.conftest import REAL

MINI = REAL / "mini-swe-agent" / "toolcall_submitted.traj.json"


def mini_document(steps: int, output: str = "ok\n", **top) -> dict:
    """A mini-swe-agent 2.x trajectory of ``steps`` tool calls, made from a real one's messages."""
    base = json.loads(MINI.read_text())
    messages = base["messages"]
    call, result = messages[2], messages[3]
    body = []
    for i in range(steps):
        a, r = copy.deepcopy(call), copy.deepcopy(result)
        a["extra"]["actions"][0] = {"command": f"echo step {i}", "tool_call_id": f"call_{i}"}
        r["tool_call_id"] = f"call_{i}"
        r["extra"]["raw_output"] = f"{i} {output}"
        r["content"] = json.dumps({"returncode": 0, "output": f"{i} {output}"})  # mini keeps the output twice
        body += [a, r]
    return {"info": base["info"], "messages": messages[:2] + body + messages[-2:], **top}


def whole(parts) -> list[dict]:
    events: list[dict] = []
    for part in parts:
        if part.replace:
            events = []
        events.extend(part.events)
    return events


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(progressive, "FIRST_BYTES", 16 << 10)
    monkeypatch.setattr(progressive, "BLOCK_BYTES", 32 << 10)


def test_a_mini_document_in_parts_holds_the_events_of_a_whole_read(tmp_path, small_parts):
    path = tmp_path / "long.traj.json"
    path.write_text(json.dumps(mini_document(400), indent=2))
    parts = list(read_parts(path))
    assert len(parts) > 3 and not any(p.replace for p in parts)
    assert parts[0].done < path.stat().st_size / 4, "the first part came after a small read"
    assert any(e["type"] == "node_added" for e in parts[0].events)
    assert whole(parts) == load(path).events
    assert parts[-1].last and parts[-1].done == parts[-1].size


def test_a_run_log_in_parts_holds_the_events_of_a_whole_read(tmp_path, small_parts):
    for name, events in (("linear", linear_events(800)), ("branching", synthetic_events(1500, seed=3))):
        path = tmp_path / f"{name}.jsonl"
        write_events(path, events)
        with path.open("ab") as f:
            f.write(b'{"type": "node_added", "id": "cut\n')  # a damaged line mid-file is skipped and counted
        write_events(tmp_path / "tail.jsonl", linear_events(3, run="tail"))
        with path.open("ab") as f:
            f.write(b"\n" + (tmp_path / "tail.jsonl").read_bytes())
        parts = list(read_parts(path))
        assert len(parts) > 3
        assert whole(parts) == load(path).events
        assert parts[-1].counts.damaged == load(path).counts.damaged == 1


def test_every_real_file_reads_in_parts_as_it_reads_whole(small_parts):
    for path in sorted(p for p in REAL.rglob("*") if p.is_file() and p.name != "SOURCES.md"):
        try:
            expected = load(path)
        except FormatError:
            continue  # a file of many runs: listed by the runs screen, never read in parts
        parts = list(read_parts(path))
        assert whole(parts) == expected.events, path.name
        assert parts[-1].format == expected.format


@pytest.mark.parametrize("indent", [2, None])
def test_the_run_name_written_after_the_steps_is_the_run_name_of_every_part(tmp_path, small_parts, indent):
    # mini-swe-agent's SWE-bench runs write the instance id last, after the messages
    path = tmp_path / "run.traj.json"
    path.write_text(json.dumps(mini_document(300, instance_id="django__django-11099"), indent=indent))
    events = whole(read_parts(path))
    assert events == load(path).events
    assert events[0]["run"] == "django__django-11099"


def test_a_document_cut_after_its_first_part_says_so_in_one_sentence(tmp_path, small_parts):
    path = tmp_path / "cut.traj.json"
    text = json.dumps(mini_document(400), indent=2)
    path.write_text(text[: len(text) * 2 // 3])
    parts = read_parts(path)
    first = next(parts)
    assert any(e["type"] == "node_added" for e in first.events)
    with pytest.raises(FormatError, match="truncated or invalid JSON"):
        list(parts)


def test_the_raw_document_is_never_held_beside_the_tree_and_each_output_is_kept_once(tmp_path, monkeypatch):
    monkeypatch.setattr(progressive, "BLOCK_BYTES", 256 << 10)
    steps, size = 80, 50_000
    path = tmp_path / "big-outputs.traj.json"
    path.write_text(json.dumps(mini_document(steps, output="x" * size), indent=2))
    outputs = steps * size
    assert path.stat().st_size > 2 * outputs  # the file holds each output twice (content and raw_output)
    tracemalloc.start()
    try:
        tree = Tree()
        for part in read_parts(path):
            for event in part.events:
                tree.apply(event)
        del part
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(len(n.observation) for n in tree.nodes.values() if n.id != "root") >= outputs
    # a whole read holds the file's bytes and the parsed document (each output four times) at once
    assert peak < 1.6 * outputs, (peak, outputs)
    assert current < 1.3 * outputs, (current, outputs)
