"""A reproduction test written from this task's issue text alone (not from its hidden tests):
the simulated model's right answer to "write a test that reproduces this issue"."""

from inimerge import merge_files


def test_reproduces_issue_override_with_other_case(tmp_path):
    base = tmp_path / "base.ini"
    local = tmp_path / "local.ini"
    base.write_text("[server]\nTimeout = 30\n")
    local.write_text("[server]\ntimeout = 5\n")
    merged = merge_files([str(base), str(local)])
    # "gives me both options": the merged section must hold one timeout, the override
    assert list(merged.options("server").values()) == ["5"]
    assert str(merged.get("server", "timeout")) == "5"
    assert str(merged.get("server", "Timeout")) == "5"
