import pytest

from csvsniff import SniffError, read_rows, sniff


def test_comma():
    assert sniff("a,b,c\n1,2,3\n").delimiter == ","


def test_tab():
    assert sniff("a\tb\n1\t2\n").delimiter == "\t"


def test_semicolon_with_decimal_commas():
    sample = "item;price\npen;1,50\nbook;12,00\n"
    assert sniff(sample).delimiter == ";"


def test_quoted_field_with_doubled_quotes():
    sample = 'a,b\n"say ""hi""",2\n"x",3\n'
    assert sniff(sample).delimiter == ","


def test_header_detection():
    assert sniff("name,age\nada,36\n").has_header


def test_empty_sample():
    with pytest.raises(SniffError):
        sniff("  \n")


def test_read_rows():
    text = "a;b\n1;2\n"
    assert read_rows(text, sniff(text)) == [["a", "b"], ["1", "2"]]
