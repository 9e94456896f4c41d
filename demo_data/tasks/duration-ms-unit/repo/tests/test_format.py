from humandur import format_duration


def test_format():
    assert format_duration(5400) == "1h 30m"
    assert format_duration(0.25) == "250ms"
    assert format_duration(86461) == "1d 1m 1s"
