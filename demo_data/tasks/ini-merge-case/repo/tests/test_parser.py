import pytest

from inimerge import ParseError, parse


def test_sections_and_options_in_order():
    config = parse("[a]\nx = 1\ny: 2\n[b]\nz=3\n")
    assert config.sections() == ["a", "b"]
    assert config.get("a", "y") == "2"


def test_comments_and_blank_lines():
    config = parse("# top\n[a]\n; note\n\nx = 1\n")
    assert config.get("a", "x") == "1"


def test_values_keep_their_case():
    assert parse("[paths]\nhome = /Users/Ada\n").get("paths", "home") == "/Users/Ada"


def test_option_outside_section():
    with pytest.raises(ParseError, match="line 1"):
        parse("x = 1\n")
