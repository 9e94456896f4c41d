import pytest

from linewrap import fill, wrap


def test_short_text_is_one_line():
    assert wrap("hello world", 40) == ["hello world"]


def test_greedy_filling():
    assert wrap("aa bb cc dd", 6) == ["aa bb", "cc dd"]


def test_long_words_are_split():
    assert wrap("abcdefghij", 4) == ["abcd", "efgh", "ij"]


def test_indents_count_towards_width():
    assert wrap("aa bb cc", 6, indent="> ", subsequent_indent="  ") == ["> aa", "  bb", "  cc"]


def test_lines_never_exceed_width():
    text = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod"
    for width in range(5, 30):
        assert all(len(line) <= width for line in wrap(text, width))


def test_fill_joins_lines():
    assert fill("aa bb cc dd", 6) == "aa bb\ncc dd"


def test_invalid_width():
    with pytest.raises(ValueError):
        wrap("x", 0)
