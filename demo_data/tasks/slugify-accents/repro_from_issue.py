"""A reproduction test written from this task's issue text alone (not from its hidden tests):
the simulated model's right answer to "write a test that reproduces this issue"."""

from slugkit import slugify


def test_reproduces_issue_accents_transliterated():
    assert slugify("Crème brûlée à la française") == "creme-brulee-a-la-francaise"
