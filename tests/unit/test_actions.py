import pytest

from trajscope.engine.actions import action_from_command, classify, make_action


@pytest.mark.parametrize(
    "command,kind",
    [
        ("ls -la", "run"),
        ("python -m pytest -q", "run"),
        ("python x.py 2>&1 | tail", "run"),
        ("make > /dev/null", "run"),
        ("echo hi > notes.txt", "edit"),
        ("sed -i 's/a/b/' f.py", "edit"),
        ("cat <<'EOF' > f.py\nx\nEOF", "edit"),
        ("git apply fix.patch", "edit"),
        ("cat src/a.py", "view"),
        ("grep -rn foo src", "search"),
        ("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git diff", "submit"),
        ("open src/a.py 10", "view"),
        ("find_file x.py", "search"),
        ("edit 1:3\nfoo\nend_of_edit", "edit"),
        ("append 'x'", "append"),
        ("create repro.py", "create"),
        ("submit", "submit"),
    ],
)
def test_classify_commands(command, kind):
    assert classify(action_from_command(command)) == kind


@pytest.mark.parametrize(
    "tool,args,kind",
    [
        ("str_replace", {"path": "a", "old": "x", "new": "y"}, "edit"),
        ("insert", {"path": "a", "line": 1, "text": "x"}, "append"),
        ("view", {"path": "a"}, "view"),
        ("search", {"pattern": "x"}, "search"),
        ("str_replace_editor", {"command": "create", "path": "a"}, "create"),
        ("str_replace_editor", {"command": "str_replace", "path": "a"}, "edit"),
        ("bash", {"command": "tee out.txt"}, "edit"),
    ],
)
def test_classify_tools(tool, args, kind):
    assert classify(make_action(tool, args)) == kind
