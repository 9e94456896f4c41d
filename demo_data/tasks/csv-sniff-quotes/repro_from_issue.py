"""A reproduction test written from this task's issue text alone (not from its hidden tests):
the simulated model's right answer to "write a test that reproduces this issue"."""

import csvsniff

SAMPLE = (
    'sku;name;"description, size, finish"\n'
    'A-1;Lamp;"Brass, 40 W, matte"\n'
    'B-2;Desk;"Oak, 120 cm, oiled"\n'
    'C-3;Chair;"Grey, felt, stackable"\n'
)


def test_reproduces_issue_semicolon_with_quoted_commas():
    assert csvsniff.sniff(SAMPLE).delimiter == ";"
