"""Widths from the space: a tree label at any width, table columns at any width, and the batch's
progress where stderr is no terminal (a CI log)."""

from __future__ import annotations

import pytest
from rich.style import Style

from tests.conftest import DEMO_RUN
from tests.functional.layout_helpers import FAILED_WHY, still_fleet
from trajscope.engine.events import read_events
from trajscope.engine.tree import Tree
from trajscope.tui.widgets.fitted_table import ColumnSpec, fit_columns
from trajscope.tui.widgets.node_label import build_label


def label(node, width):
    return build_label(node, lambda name: Style(), width=width)


@pytest.fixture(scope="module")
def tree():
    return Tree.fold(read_events(DEMO_RUN))


@pytest.mark.parametrize("width", range(16, 130, 3))
def test_a_label_fits_its_width_and_keeps_the_score_and_the_verdict(tree, width):
    for node in tree.nodes.values():
        text = label(node, width)
        assert text.cell_len <= width
        if node.score is not None:
            assert f"{node.score:.2f}" in text.plain, (width, text.plain)
        if node.verdict is not None:
            assert {"resolved": "✓", "unresolved": "✗"}[node.verdict] in text.plain
        assert f"#{node.id}" in text.plain or node.id == "root"


def test_the_action_takes_the_room_there_is(tree):
    node = max((n for n in tree.nodes.values() if n.action), key=lambda n: len(n.short(500)))
    whole = node.short(500)
    assert len(whole) > 34 and whole in label(node, 200).plain
    assert "submitted ✓ resolved" in label(next(n for n in tree.nodes.values() if n.verdict == "resolved"), 120).plain


SPECS = [
    ColumnSpec("name", "name", min=10, max=40, rank=0),
    ColumnSpec("state", "state", width=8, rank=0),
    ColumnSpec("count", "count", width=6, rank=1),
    ColumnSpec("extra", "extra", min=10, rank=2),
    ColumnSpec("why", "why", min=12, weight=3, rank=0),
]


@pytest.mark.parametrize("available", [30, 60, 80, 100, 150, 300])
def test_columns_share_the_width_and_the_least_needed_go_first(available):
    widths = fit_columns(SPECS, available)
    used = sum(w + 2 for w in widths.values())
    assert used <= available or list(widths) == ["name"]
    assert widths.get("state", 8) == 8 and widths.get("count", 6) == 6  # fixed columns keep theirs
    assert list(widths) == [s.key for s in SPECS if s.key in widths]  # the order stays
    if "extra" in widths:
        assert {"count", "why"} <= set(widths)  # a higher rank went before a lower one
    if available >= 150:
        assert len(widths) == len(SPECS) and used == available  # nothing is left empty beside them
        assert widths["name"] <= 40


def test_the_batch_progress_is_plain_lines_where_stderr_is_no_terminal(tmp_path, capsys):
    from trajscope.tui.cli.batch import _progress

    fleet = still_fleet(tmp_path)
    try:
        for member in fleet.members:
            member.through.set()
        _progress(fleet)  # stderr is captured here: no terminal, as in a CI log
    finally:
        fleet.close()
    text = capsys.readouterr().err
    lines = text.splitlines()
    assert not any(ch in text for ch in "┃│━─┏┡└")
    for member in fleet.members:
        mine = [line for line in lines if line.startswith(f"{member.name}: ")]
        assert len(mine) == 1 and member.state in mine[0]
    assert any(FAILED_WHY in line for line in lines)  # a reason is never cut to a column
    assert lines[-1].startswith("batch: 4/8 done")
