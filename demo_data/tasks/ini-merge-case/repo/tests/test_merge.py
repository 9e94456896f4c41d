from inimerge import merge, merge_files, parse


def test_later_files_override(tmp_path):
    (tmp_path / "a.ini").write_text("[db]\nhost = a\nport = 1\n")
    (tmp_path / "b.ini").write_text("[db]\nhost = b\n")
    config = merge_files([tmp_path / "a.ini", tmp_path / "b.ini"])
    assert config.get("db", "host") == "b"
    assert config.get("db", "port") == "1"


def test_sections_are_case_sensitive():
    config = merge(parse("[Server]\na = 1\n"), parse("[server]\na = 2\n"))
    assert config.sections() == ["Server", "server"]
    assert config.get("Server", "a") == "1"
