"""Damaged variants of every input format trajscope reads: truncated, bytes flipped,
values of the wrong type, nesting thousands of levels deep, huge strings. Each one
must load (what can be read is kept) or fail with one FormatError sentence; never a
traceback, a hang or a left-over temporary file."""

from __future__ import annotations

import copy
import random
import threading
from pathlib import Path

import orjson
import pytest

from trajscope.engine.events import read_events, write_events
from trajscope.engine.formats import FormatError, load
from trajscope.engine.tree import Tree
from tests.conftest import ROOT

FIXTURES = sorted(p for p in (ROOT / "tests" / "fixtures" / "real").rglob("*") if p.is_file() and p.suffix != ".md")
FIXTURES.append(ROOT / "demo_data" / "runs" / "calc-divide.jsonl")
VARIANTS = 24  # per fixture and kind of damage


def exercise(path: Path, tmp: Path) -> None:
    """What the CLI and the app do with a file: load, fold, stats, draw each node, convert."""
    try:
        loaded = load(path)
    except FormatError as exc:
        text = str(exc)
        assert text and "\n" not in text and "Traceback" not in text
        return
    tree = Tree.fold(loaded.events)
    stats = tree.stats()
    orjson.dumps(stats)
    for node in tree.nodes.values():
        node.short(60)
        _ = node.resolved, node.score, node.kind
    tree.search("a")
    out = tmp / "converted.jsonl"
    write_events(out, loaded.events)
    assert not out.with_name(out.name + ".tmp").exists()
    again = Tree.fold(read_events(out))
    assert len(again) == len(tree)


def guarded(path: Path, tmp: Path, seconds: float = 60) -> None:
    error: list[BaseException] = []

    def target():
        try:
            exercise(path, tmp)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            error.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{path.name} hung"
    if error:
        raise AssertionError(f"{path.name}: {type(error[0]).__name__}: {error[0]}") from error[0]


def _nodes(value, out):
    stack = [value]
    while stack:
        v = stack.pop()
        out.append(v)
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return out


REPLACEMENTS = ["text", 7, -1.5, None, True, [], {}, ["a", {"b": 1}], {"x": [1]}, 1e308, "\ud800"]


def type_swaps(data, rng: random.Random):
    data = copy.deepcopy(data)
    containers = [n for n in _nodes(data, []) if isinstance(n, (dict, list)) and n]
    for container in rng.sample(containers, min(len(containers), 12)):
        key = rng.choice(list(container)) if isinstance(container, dict) else rng.randrange(len(container))
        container[key] = copy.deepcopy(rng.choice(REPLACEMENTS))
    return data


DEEP = "__trajscope_deep__"


def deepen(data, rng: random.Random):
    """``data`` with one value replaced by a marker that ``nest`` turns into deep nesting."""
    data = copy.deepcopy(data)
    containers = [n for n in _nodes(data, []) if isinstance(n, dict) and n]
    if containers:
        target = rng.choice(containers)
        target[rng.choice(list(target))] = DEEP
    return data


def nest(raw: bytes, depth: int, rng: random.Random) -> bytes:
    opens, closes = [], []
    for _ in range(depth):
        if rng.random() < 0.5:
            opens.append(b"[")
            closes.append(b"]")
        else:
            opens.append(b'{"role":"assistant","children":')
            closes.append(b"}")
    return raw.replace(f'"{DEEP}"'.encode(), b"".join(opens) + b'"bottom"' + b"".join(reversed(closes)))


def variants(path: Path, rng: random.Random):
    raw = path.read_bytes()
    for _ in range(VARIANTS):  # truncation
        yield "cut", raw[: rng.randrange(1, len(raw))]
    for _ in range(VARIANTS):  # flipped bytes
        data = bytearray(raw)
        for _ in range(rng.randrange(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        yield "flip", bytes(data)
    docs = (
        [orjson.loads(line) for line in raw.splitlines() if line.strip()]
        if path.suffix == ".jsonl"
        else [orjson.loads(raw)]
    )

    def dump(items):
        if path.suffix == ".jsonl":
            return b"\n".join(orjson.dumps(d) if not isinstance(d, bytes) else d for d in items) + b"\n"
        return orjson.dumps(items[0]) if not isinstance(items[0], bytes) else items[0]

    import json

    def dump_std(items):  # the standard library writes what orjson refuses (\ud800, 1e999)
        if path.suffix == ".jsonl":
            return b"\n".join(json.dumps(d).encode() for d in items) + b"\n"
        return json.dumps(items[0]).encode()

    for _ in range(VARIANTS):
        yield "types", dump_std([type_swaps(d, rng) if rng.random() < 0.5 else d for d in docs])
    for depth in (300, 1500, 5000, 200_000):
        yield f"deep{depth}", nest(dump([deepen(d, rng) for d in docs]), depth, rng)
    yield "huge", dump_std([type_swaps(d, rng) for d in docs]).replace(b'"text"', b'"' + b"x" * (8 << 20) + b'"', 1)
    yield "bom", b"\xef\xbb\xbf" + raw
    yield "nul", raw[:100] + b"\x00" + raw[100:]
    yield "inf", raw.replace(b"0.0", b"1e999", 3)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
@pytest.mark.slow
def test_damaged_variants_never_crash(fixture: Path, tmp_path: Path):
    rng = random.Random(f"trajscope-{fixture.name}")
    for i, (kind, data) in enumerate(variants(fixture, rng)):
        path = tmp_path / f"{kind}-{i}{''.join(fixture.suffixes[-2:])}"
        path.write_bytes(data)
        guarded(path, tmp_path)
        path.unlink()
    assert not list(tmp_path.glob("*.tmp"))


def test_valid_but_unusual_json_is_read(tmp_path: Path):
    """A byte-order mark, a lone surrogate and 1e999 are valid JSON; so is a DARS tree
    deeper than orjson's limit (about 255 turns)."""
    source = ROOT / "tests" / "fixtures" / "real" / "dars" / "none.prev.root"
    base = len(Tree.fold(load(source).events))
    bom = tmp_path / "bom.prev.root"
    bom.write_bytes(b"\xef\xbb\xbf" + source.read_bytes())
    assert len(Tree.fold(load(bom).events)) == base
    # A deep chain: 600 turns, each an assistant message and its observation (written as
    # text: no JSON writer at hand goes this deep).
    text = '{"role": "user", "content": "last \\ud800", "children": []}'
    for i in range(600, 0, -1):
        text = f'{{"role": "assistant", "action": "echo {i}", "thought": "t", "children": [{text}]}}'
        if i > 1:
            text = f'{{"role": "user", "content": "obs {i - 1}", "children": [{text}]}}'
    deep = tmp_path / "deep.root"
    deep.write_text(
        '{"x": 1e999, "root": {"role": "system", "content": "sys", "children": ['
        f'{{"role": "user", "content": "the problem", "children": [{text}]}}]}}}}'
    )
    tree = Tree.fold(load(deep).events)
    assert len(tree) == 600 and tree.max_depth == 600
    log = tmp_path / "odd.jsonl"
    log.write_bytes(
        b'\xef\xbb\xbf{"type":"run_started","ts":1,"run":"r","task":{"instance_id":"x\\ud800"}}\n'
        b'{"type":"node_added","ts":2,"run":"r","id":"n1","parent":null,"cost":1e999,'
        b'"action":{"tool":"bash","args":{"command":"ls"}}}\n'
        b"\x00garbage\n"
        b'{"type":"node_executed","ts":3,"run":"r","id":"n1","observation":"ok","exit_code":0}\n'
    )
    loaded = load(log)
    tree = Tree.fold(loaded.events)
    assert len(tree) == 1 and tree.nodes["n1"].observation == "ok" and loaded.counts.damaged == 1
    assert tree.stats()["cost"] == 0  # an infinite cost is not a cost


def test_wrong_field_types_are_left_out(tmp_path: Path):
    events = [
        {"type": "run_started", "ts": 1, "run": "r", "task": "not an object", "config": 5},
        {
            "type": "node_added",
            "ts": 2,
            "run": "r",
            "id": "n1",
            "parent": None,
            "action": "ls",
            "tokens_in": "many",
            "tokens_out": [1],
            "cost": {"usd": 1},
            "thought": 3,
        },
        {
            "type": "node_added",
            "ts": 2,
            "run": "r",
            "id": "n2",
            "parent": "n1",
            "action": {"tool": "bash", "args": "ls", "raw": 5},
        },
        {
            "type": "node_executed",
            "ts": 3,
            "run": "r",
            "id": "n1",
            "observation": {"x": 1},
            "exit_code": "0",
            "duration_s": "fast",
        },
        {"type": "node_scored", "ts": 3, "run": "r", "id": "n1", "score": "high"},
        {"type": "submitted", "ts": 4, "run": "r", "id": "n2", "patch": 7, "verified": "yes"},
        {"type": "run_finished", "ts": 5, "run": "r", "reason": 3, "totals": "all"},
    ]
    path = tmp_path / "typed.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    tree = Tree.fold(load(path).events)
    stats = tree.stats()
    assert stats["nodes"] == 2 and stats["tokens"] == 0 and stats["submissions"] == 1
    assert tree.counts.bad_fields >= 12
    assert tree.nodes["n2"].action == {"tool": "bash", "args": {}}
    assert tree.nodes["n2"].resolved is None


def test_run_totals_of_the_wrong_type_are_counted_and_skipped(tmp_path: Path):
    """A run_finished whose totals hold a string, a list or a bool where a number belongs: ``stats``
    reports the nodes' own figures and counts each wrong field, as for every other event."""
    events = [
        {"type": "run_started", "ts": 1, "run": "r", "task": {"instance_id": "x"}},
        {
            "type": "node_added",
            "ts": 2,
            "run": "r",
            "id": "n1",
            "parent": None,
            "tokens_in": 10,
            "tokens_out": 5,
            "cost": 0.5,
            "action": {"tool": "bash", "args": {"command": "ls"}},
        },
        {
            "type": "run_finished",
            "ts": 5,
            "run": "r",
            "reason": "finished",
            "totals": {"tokens_in": "many", "tokens_out": [3], "cost": "lots", "api_calls": True},
        },
    ]
    path = tmp_path / "totals.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    tree = Tree.fold(load(path).events)
    stats = tree.stats()
    assert (stats["tokens_in"], stats["tokens_out"], stats["cost"]) == (10, 5, 0.5)
    assert tree.counts.bad_fields == 4 and tree.finished == "finished"
    good = {**events[-1], "totals": {"tokens_in": 400, "tokens_out": 7, "cost": 2.0}}
    assert (
        Tree.fold([*events[:-1], good]).stats()["tokens"] == 407
    )  # the run's totals still count when they are numbers
    from trajscope.tui.cli import main

    assert main(["stats", str(path), "--json"]) == 0  # not a traceback
