import threading

import orjson

from trajscope.engine.events import LogFollower, ReadCounts, RunLog, make_event, read_events, write_events


def test_runlog_round_trip(tmp_path):
    path = tmp_path / "run.jsonl"
    with RunLog(path, run="r1") as log:
        log.append({"type": "run_started", "task": {"instance_id": "x"}, "config": {}})
        log.append({"type": "node_added", "id": "1", "parent": None, "action": None})
    events = read_events(path)
    assert [e["type"] for e in events] == ["run_started", "node_added"]
    assert all(e["run"] == "r1" and isinstance(e["ts"], float) for e in events)


def test_damaged_and_unknown_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "run.jsonl"
    good = orjson.dumps(make_event("node_added", "r", id="1", parent=None))
    path.write_bytes(
        b"\n".join(
            [
                good,
                b"{not json",
                b"[1, 2]",
                b'{"no_type": 1}',
                orjson.dumps(make_event("from_the_future", "r")),
                b"",
                good.replace(b'"1"', b'"2"'),
            ]
        )
        + b"\n"
    )
    counts = ReadCounts()
    events = read_events(path, counts)
    assert [e["id"] for e in events] == ["1", "2"]
    assert counts.damaged == 3
    assert counts.unknown == 1


def test_follower_waits_for_complete_lines(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"")
    follower = LogFollower(path)
    line = orjson.dumps(make_event("node_added", "r", id="1", parent=None))
    with open(path, "ab") as fh:
        fh.write(line[:10])
        fh.flush()
        assert follower.poll() == []
        fh.write(line[10:] + b"\n")
        fh.flush()
    assert [e["id"] for e in follower.poll()] == ["1"]
    assert follower.poll() == []
    assert follower.counts.damaged == 0


def test_follower_restarts_when_the_file_is_replaced_or_truncated(tmp_path):
    path = tmp_path / "run.jsonl"
    line = orjson.dumps(make_event("node_added", "r", id="1", parent=None)) + b"\n"
    path.write_bytes(line * 3)
    follower = LogFollower(path)
    assert len(follower.poll()) == 3
    write_events(path, [make_event("node_added", "r", id="9", parent=None)] * 5)  # atomic replace
    assert [e["id"] for e in follower.poll()] == ["9"] * 5
    path.write_bytes(line.replace(b'"1"', b'"7"'))  # truncated in place, shorter
    assert [e["id"] for e in follower.poll()] == ["7"]


def test_follow_yields_appended_events_until_stopped(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"")
    stop = threading.Event()
    seen: list[str] = []

    def consume():
        for batch in LogFollower(path).follow(stop):
            seen.extend(e["id"] for e in batch)
            if len(seen) >= 50:
                stop.set()

    thread = threading.Thread(target=consume)
    thread.start()
    with RunLog(path, run="r") as log:
        for i in range(50):
            log.append({"type": "node_added", "id": str(i), "parent": None})
    thread.join(timeout=10)
    stop.set()
    assert not thread.is_alive()
    assert seen == [str(i) for i in range(50)]


def test_a_follower_never_holds_a_line_without_end(tmp_path, monkeypatch):
    import trajscope.engine.events as events

    monkeypatch.setattr(events, "MAX_LINE", 1000)
    monkeypatch.setattr(events, "FOLLOW_CHUNK", 700)
    path = tmp_path / "run.jsonl"
    good = b'{"type":"node_added","ts":1,"run":"r","id":"n1","parent":null}\n'
    path.write_bytes(good + b"x" * 5000)
    follower = events.LogFollower(path)
    seen = []
    for _ in range(20):
        seen += follower.poll()
        assert len(follower._partial) <= 1000 + 700
    with open(path, "ab") as fh:
        fh.write(b"\n" + good.replace(b"n1", b"n2"))
    for _ in range(5):
        seen += follower.poll()
    assert [e["id"] for e in seen] == ["n1", "n2"] and follower.counts.damaged == 1


def test_the_secret_check_finds_keys_and_passes_plain_text():
    from trajscope.engine import redact

    redact.register("hunter2-very-secret-value")
    assert redact.has_secret(b'{"observation": "the key is hunter2-very-secret-value"}')
    assert redact.has_secret(b'{"observation": "export OPENAI_API_KEY=sk-abcdefghijklmnop"}')
    assert not redact.has_secret(b'{"observation": "sk- is a prefix; nothing secret here"}')
    assert not redact.has_secret(b'{"observation": "' + b"plain text " * 10000 + b'"}')
