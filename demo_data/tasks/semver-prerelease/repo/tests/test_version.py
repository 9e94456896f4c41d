import pytest

from semverlite import InvalidVersion, Version, compare


def test_parse_round_trip():
    assert str(Version.parse("1.2.3-beta.2+build.7")) == "1.2.3-beta.2+build.7"


@pytest.mark.parametrize("text", ["1.2", "01.2.3", "1.2.3-", "1.2.3-01", "v1.2.3"])
def test_invalid(text):
    with pytest.raises(InvalidVersion):
        Version.parse(text)


def test_release_after_prerelease():
    assert compare("1.0.0-rc.1", "1.0.0") == -1


def test_alpha_before_beta():
    assert compare("1.0.0-alpha", "1.0.0-beta") == -1


def test_numeric_identifier_before_alphanumeric():
    assert compare("1.0.0-1", "1.0.0-alpha") == -1
    assert compare("1.0.0-alpha", "1.0.0-1") == 1


def test_shorter_prerelease_first():
    assert compare("1.0.0-alpha", "1.0.0-alpha.1") == -1


def test_build_metadata_ignored():
    assert compare("1.0.0+a", "1.0.0+b") == 0


def test_bump():
    assert str(Version.parse("1.4.2").bump("minor")) == "1.5.0"
    assert str(Version.parse("2.0.0-rc.1").bump("patch")) == "2.0.0"
