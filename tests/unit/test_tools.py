"""The seven tools: parsing tool calls and the text format, and running them in a sandbox."""

from __future__ import annotations

import pytest

from trajscope.engine.actions import TOOL_NAMES, TOOLS, Action, ActionError, parse_text, parse_tool_call
from trajscope.engine.tools import SEARCH_CAP, execute
from trajscope.engine.sandbox.local import LocalSandbox


def test_schemas_cover_the_seven_tools():
    assert TOOL_NAMES == ("bash", "view", "search", "str_replace", "insert", "create", "submit")
    for tool in TOOLS:
        params = tool["function"]["parameters"]
        assert set(params["required"]) <= set(params["properties"])


@pytest.mark.parametrize(
    "name,args,kind,critical",
    [
        ("bash", '{"command": "ls"}', "run", False),
        ("bash", '{"command": "sed -i s/a/b/ x.py"}', "edit", True),
        ("view", '{"path": "a.py", "start": "3"}', "view", False),
        ("search", '{"pattern": "def f"}', "search", False),
        ("str_replace", '{"path": "a.py", "old": "x", "new": "y"}', "edit", True),
        ("insert", '{"path": "a.py", "line": 0, "text": "x"}', "append", True),
        ("create", '{"path": "b.py", "content": ""}', "create", True),
        ("submit", "", "submit", True),
    ],
)
def test_parse_tool_call_and_kinds(name, args, kind, critical):
    action = parse_tool_call(name, args)
    assert (action.kind, action.critical) == (kind, critical)
    assert Action.from_dict(action.to_dict()) == action


def test_integer_arguments_given_as_text_become_integers():
    assert parse_tool_call("view", {"path": "a", "start": "3"}).args["start"] == 3


@pytest.mark.parametrize(
    "name,args,message",
    [
        ("rm", "{}", "unknown tool 'rm'"),
        ("bash", "{not json", "not valid JSON"),
        ("bash", "{}", "bash needs command"),
        ("view", '{"path": "a", "colour": 1}', "takes no argument colour"),
        ("insert", '{"path": "a", "line": "two", "text": "x"}', "line must be an integer"),
        ("str_replace", '{"path": "a", "old": 1, "new": "y"}', "old must be a string"),
    ],
)
def test_bad_tool_calls_say_what_is_wrong(name, args, message):
    with pytest.raises(ActionError, match=message):
        parse_tool_call(name, args)


def test_text_format():
    thought, action = parse_text("Let me look.\n\n```bash\nls -la\n```\n")
    assert (thought, action.tool, action.args) == ("Let me look.", "bash", {"command": "ls -la"})
    assert parse_text("Done.\n```\nsubmit\n```")[1].tool == "submit"
    with pytest.raises(ActionError, match="no fenced"):
        parse_text("I will now run the tests.")
    with pytest.raises(ActionError, match="had 2 fenced"):
        parse_text("```bash\nls\n```\nthen\n```bash\npwd\n```")


@pytest.fixture
def box(tmp_path):
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "mod.py").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    (repo / "pkg" / "dup.py").write_text("x = 1\nx = 1\n")
    (repo / "many.txt").write_text("hit\n" * (SEARCH_CAP + 20))
    with LocalSandbox(repo) as sandbox:
        yield sandbox


def run(box, tool, **args):
    return execute(Action(tool, args), box, timeout=10)


def test_view_numbers_lines_and_takes_a_range(box):
    obs = run(box, "view", path="pkg/mod.py", start=3, end=4)
    assert obs.text.splitlines() == ["3\tline 3", "4\tline 4", "[6 more lines; view with start=5 to see them]"]
    assert run(box, "view", path="pkg").text.splitlines() == [".", "./dup.py", "./mod.py"]
    assert run(box, "view", path="nope.py").text == "error: nope.py does not exist"
    assert run(box, "view", path="pkg/mod.py", start=50).text == "error: pkg/mod.py has only 10 lines"


def test_search_is_grep_like_with_a_cap(box):
    obs = run(box, "search", pattern=r"line [12]\b", path="pkg")
    assert obs.text.splitlines() == ["pkg/mod.py:1:line 1", "pkg/mod.py:2:line 2"]
    many = run(box, "search", pattern="hit")
    assert len(many.text.splitlines()) == SEARCH_CAP + 1 and "narrow the pattern" in many.text
    missing = run(box, "search", pattern="absent")
    assert missing.exit_code == 1 and "no matches" in missing.text


def test_str_replace_fails_clearly_when_old_is_absent_or_not_unique(box):
    absent = run(box, "str_replace", path="pkg/mod.py", old="line 99\n", new="")
    assert absent.exit_code == 1 and "was not found in pkg/mod.py" in absent.text
    twice = run(box, "str_replace", path="pkg/dup.py", old="x = 1", new="x = 2")
    assert twice.exit_code == 1 and "occurs 2 times" in twice.text
    assert box.read("pkg/dup.py") == "x = 1\nx = 1\n"
    done = run(box, "str_replace", path="pkg/mod.py", old="line 5\n", new="five\nfive and a half\n")
    assert done.exit_code == 0 and " 5\tfive\n 6\tfive and a half\n" in done.text
    assert box.read("pkg/mod.py").count("\n") == 11


def test_insert_create_and_paths_outside_the_repository(box):
    assert run(box, "insert", path="pkg/mod.py", line=0, text="top").exit_code == 0
    assert box.read("pkg/mod.py").startswith("top\nline 1\n")
    assert "between 0 and 11" in run(box, "insert", path="pkg/mod.py", line=99, text="x").text
    assert run(box, "create", path="pkg/new.py", content="y = 2\n").text == "Created pkg/new.py (1 lines)."
    assert "already exists" in run(box, "create", path="pkg/new.py", content="").text
    outside = run(box, "view", path="/etc/passwd")
    assert outside.exit_code == 1 and "outside the repository" in outside.text


def test_submit_shows_the_diff_and_bash_reports_timeouts(box):
    assert run(box, "submit").text == "(no changes to submit)"
    run(box, "bash", command="echo more >> many.txt")
    assert "+more" in run(box, "submit").text
    slow = execute(Action("bash", {"command": "sleep 5"}), box, timeout=0.5)
    assert slow.timed_out and "did not finish in 0.5 s" in slow.text
