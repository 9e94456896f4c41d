"""A reproduction test written from this task's issue text alone (not from its hidden tests):
the simulated model's right answer to "write a test that reproduces this issue"."""

from linewrap import wrap


def test_reproduces_issue_line_of_exact_width_kept():
    assert wrap("the quick brown fox", width=9) == ["the quick", "brown fox"]
