"""A reproduction test written from this task's issue text alone (not from its hidden tests):
the simulated model's right answer to "write a test that reproduces this issue"."""

from semverlite import compare


def test_reproduces_issue_numeric_prerelease_order():
    assert compare("2.1.0-alpha.10", "2.1.0-alpha.2") == 1
    assert compare("2.1.0-alpha.2", "2.1.0-alpha.10") == -1
