"""A long single path costs what it holds, not its depth squared: the flag checkpoints share
what the steps above them saw, and the structures they are made of behave as maps and lists."""

from __future__ import annotations

import tracemalloc

from trajscope.engine.analysis.flags import FlagCache, detect
from trajscope.engine.analysis.persistent import PMap, items, push
from trajscope.engine.synthetic import linear_events
from trajscope.engine.tree import Tree


class _SameHash:
    """Keys whose hashes are all equal: the map's last level keeps them side by side."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __hash__(self) -> int:
        return 7

    def __eq__(self, other) -> bool:
        return isinstance(other, _SameHash) and other.name == self.name


def test_a_pmap_is_a_map_whose_updates_leave_the_old_one_as_it_was():
    versions, current, plain = [], PMap(), {}
    keys = [f"file_{i}.py" for i in range(3000)] + [None, 0, 31, 32, 1 << 40, -1]
    keys += [_SameHash(n) for n in "abc"]
    for i, key in enumerate(keys):
        current = current.set(key, i)
        plain[key] = i
        if i % 500 == 0:
            versions.append((current, dict(plain)))
    current = current.set("file_3.py", "again").discard("file_4.py").discard("absent").discard(_SameHash("b"))
    plain["file_3.py"] = "again"
    del plain["file_4.py"], plain[_SameHash("b")]
    versions.append((current, plain))
    for pmap, expected in versions:
        assert len(pmap) == len(expected)
        assert all(pmap.get(k) == v for k, v in expected.items())
        assert "file_4.py" not in current and _SameHash("b") not in current and _SameHash("c") in current
    assert "file_2999.py" not in versions[0][0] and versions[0][0].get("file_0.py") == 0
    assert items(push(push(None, 1), 2)) == [1, 2] and items(None) == []


def test_flag_checkpoints_on_a_10000_step_path_hold_what_changed_not_the_path_each():
    tree = Tree.fold(linear_events(10_000))
    assert tree.max_depth == 10_000
    cache = FlagCache(tree)
    tracemalloc.start()
    try:
        cache.build()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # 312 checkpoints each copying the path's lists and maps held ~120 MB here; shared, ~16 MB
    assert len(cache.states) == 10_000 // cache.every
    assert held < 30 << 20, f"{held >> 20} MB for the checkpoints of one path"
    for node_id in ("10000", "9999", "5000", "1"):
        assert [f.to_json() for f in cache.flags_at(node_id)] == [f.to_json() for f in detect(tree, node_id)]
