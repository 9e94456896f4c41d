"""A reproduction test written from this task's issue text alone (not from its hidden tests):
the simulated model's right answer to "write a test that reproduces this issue"."""

from humandur import parse


def test_reproduces_issue_milliseconds_parse():
    assert parse("250ms") == parse("1s") * 0.25


def test_reproduces_issue_seconds_and_milliseconds():
    assert parse("1s500ms") == parse("1s") * 1.5
