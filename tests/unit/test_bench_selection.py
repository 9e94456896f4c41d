"""The selection view of ``trajscope bench search``: its arithmetic (rates, efficiency, pairing)
and what it counts as a tree that holds the fix."""

from __future__ import annotations

import argparse

import pytest

from tests.unit.test_select import tree_with
from trajscope.tui.bench import search, selection


def row(task, seed, oracle, **resolved):
    picks = {name: {"node": f"{task}-{name}", "resolved": ok} for name, ok in resolved.items()}
    return {
        "task": task,
        "strategy": "dars",
        "seed": seed,
        "wrong_rate": 0.5,
        "oracle": oracle,
        "selected": picks,
        "distinct": 2,
        "nodes": 10 + seed,
        "search_s": 2.0,
    }


def test_rates_efficiency_and_paired_differences():
    rows = [
        row("a", 0, True, prm=True, judge=False),
        row("a", 1, True, prm=False, judge=True),
        row("b", 0, True, prm=False, judge=True),
        row("b", 1, False, prm=False, judge=False),
    ]
    prm, judge = selection.summarise(rows, ["prm", "judge"])
    assert prm["oracle"]["k"] == 3 and prm["oracle"]["n"] == 4 and prm["oracle"]["rate"] == 0.75
    assert prm["selected"]["k"] == 1 and prm["selected"]["rate"] == 0.25
    # efficiency is over the searches that held a fix, not over all of them
    assert prm["efficiency"]["k"] == 1 and prm["efficiency"]["n"] == 3 and prm["efficiency"]["rate"] == 0.333
    assert judge["efficiency"]["rate"] == 0.667
    low, high = judge["efficiency"]["ci95"]
    assert 0.0 < low < 0.667 < high < 1.0
    # paired on the same searches: judge fixed two prm missed and missed one prm fixed
    assert (judge["wins"], judge["losses"], judge["vs"]) == (2, 1, "prm")
    assert (prm["wins"], prm["losses"]) == (0, 0)
    assert (judge["distinct"], judge["nodes"], judge["search_s"]) == (2.0, 10.5, 2.0)


def test_no_fix_in_any_tree_has_no_efficiency_and_groups_stay_apart():
    rows = [row("a", 0, False, prm=False), {**row("a", 0, True, prm=True), "strategy": "sample"}]
    dars, sample = selection.summarise(rows, ["prm"])
    assert (dars["strategy"], dars["efficiency"], dars["selected"]["rate"]) == ("dars", None, 0.0)
    assert (sample["strategy"], sample["efficiency"]["rate"]) == ("sample", 1.0)


def test_a_selected_fix_where_no_tree_held_one_is_an_error_not_a_rate():
    with pytest.raises(ValueError, match="resolved where no submission did"):
        selection.summarise([row("a", 0, False, prm=True)], ["prm"])


def test_the_oracle_counts_submitted_duplicates_and_only_submissions():
    assert selection.oracle_holds(tree_with([("a", 2, "y", 0.9, False), ("b", 3, "y", 0.1, True)]))
    assert not selection.oracle_holds(tree_with([("a", 2, "y", 0.9, False), ("b", 2, "", 0.1, True)]))


def test_the_selection_view_offers_every_selector_and_short_defaults():
    from trajscope.engine.spec import FIELDS

    parser = argparse.ArgumentParser()
    search.add_options(parser)
    args = parser.parse_args(["--view", "selection"])
    search.fill_defaults(args)
    offered = FIELDS["select"].metadata["choices"]
    assert sorted(args.selectors) == sorted(name for name in offered if name != "auto") and args.selectors[0] == "prm"
    assert (args.seeds, args.strategies, args.wrong_rates, args.max_nodes) == (1, ["dars", "sample"], [0.5], 20)
    args = parser.parse_args(["--seeds", "3"])
    search.fill_defaults(args)
    assert args.seeds == 3 and args.max_nodes == 30 and "linear" in args.strategies


@pytest.mark.parametrize(
    "argv, said",
    [(["--tasks", "no-such-task"], "no bundled task's id contains no-such-task"), (["--seeds", "0"], "at least 1")],
)
def test_a_run_that_would_measure_nothing_is_refused_in_one_sentence(argv, said):
    from trajscope.tui.errors import UserError

    parser = argparse.ArgumentParser()
    search.add_options(parser)
    with pytest.raises(UserError, match=said):
        search.run(parser.parse_args(["--view", "selection", *argv]))
