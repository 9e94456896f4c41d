import pytest

from humandur import DurationError, parse


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("2m", 120), ("1h30m", 5400), ("1d", 86400),
                                          ("1.5h", 5400), ("1m 30s", 90), ("2M", 120)])
def test_parse(text, seconds):
    assert parse(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "h", "5x", "1h-2m", "mm"])
def test_invalid(text):
    with pytest.raises(DurationError):
        parse(text)
