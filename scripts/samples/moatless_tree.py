"""A real moatless-tree-search ``trajectory.json`` for tests/fixtures/real (run by hand).

moatless's own classes build a small search tree (nodes with action steps of its real action
argument classes, observations, rewards, visits, values, a duplicate, terminal finishes and
file-context patches) and its own serialisers write it: ``Node.model_dump`` nested under
``root`` (what ``SearchTree.persist`` writes there) and ``Node.dump_as_list`` (the flat list
with ``parent_id``). moatless is installed in a scratch venv, never in trajscope's:

    python3 -m venv /tmp/mts && /tmp/mts/bin/pip install moatless
    /tmp/mts/bin/python scripts/samples/moatless_tree.py tests/fixtures/real/moatless
"""

import json
import sys
from pathlib import Path

from moatless.actions.finish import FinishArgs
from moatless.actions.run_tests import RunTestsArgs
from moatless.actions.schema import Observation
from moatless.actions.string_replace import StringReplaceArgs
from moatless.actions.view_code import CodeSpan, ViewCodeArgs
from moatless.file_context import FileContext
from moatless.node import ActionStep, Node, Reward

ISSUE = "calc.add(2, 3) returns -1 instead of 5. Fix calc.add so that it adds."
RIGHT = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
WRONG = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return abs(a - b)\n"


def context(patch=None):
    files = [{"file_path": "calc.py", "patch": patch, "spans": [{"span_id": "add"}], "show_all_spans": False}]
    return FileContext.from_dict({"files": files}, repo=None)


def node(
    node_id, parent, action, message, reward=None, visits=1, value=None, terminal=False, duplicate=None, patch=None
):
    n = Node(
        node_id=node_id,
        parent=parent,
        file_context=context(patch),
        visits=visits,
        value=value if value is not None else float(reward or 0),
        terminal=terminal,
        is_duplicate=duplicate,
        action_steps=[ActionStep(action=action, observation=Observation(message=message, terminal=terminal))],
        reward=Reward(value=reward, explanation=f"reward {reward}") if reward is not None else None,
    )
    parent.children.append(n)
    return n


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    root = Node(node_id=0, user_message=ISSUE, file_context=context(), visits=6, value=120.0)
    view = node(
        1,
        root,
        ViewCodeArgs(thoughts="Read add.", files=[CodeSpan(file_path="calc.py", span_ids=["add"])]),
        "def add(a, b):\n    return a - b",
        reward=40,
        visits=5,
        value=150.0,
    )
    fix = node(
        2,
        view,
        StringReplaceArgs(
            thoughts="Subtract becomes add.", path="calc.py", old_str="return a - b", new_str="return a + b"
        ),
        "The file calc.py has been edited.",
        reward=85,
        visits=2,
        value=180.0,
        patch=RIGHT,
    )
    test = node(
        3,
        fix,
        RunTestsArgs(thoughts="Run the tests.", test_files=["tests/test_calc.py"]),
        "2 passed",
        reward=90,
        patch=RIGHT,
    )
    node(
        4,
        test,
        FinishArgs(thoughts="Done.", finish_reason="add adds"),
        "add adds",
        reward=95,
        terminal=True,
        patch=RIGHT,
    )
    odd = node(
        5,
        view,
        StringReplaceArgs(
            thoughts="Make it non-negative.", path="calc.py", old_str="return a - b", new_str="return abs(a - b)"
        ),
        "The file calc.py has been edited.",
        reward=-30,
        patch=WRONG,
    )
    node(
        6,
        odd,
        FinishArgs(thoughts="Done.", finish_reason="non-negative"),
        "non-negative",
        reward=-60,
        terminal=True,
        patch=WRONG,
    )
    node(
        7,
        root,
        ViewCodeArgs(thoughts="Read add again.", files=[CodeSpan(file_path="calc.py", span_ids=["add"])]),
        "def add(a, b):\n    return a - b",
        reward=0,
        visits=1,
        duplicate=True,
    )
    (out / "trajectory.json").write_text(json.dumps({"root": root.model_dump()}, indent=2))
    (out / "trajectory.flat.json").write_text(json.dumps(root.dump_as_list(), indent=2))


if __name__ == "__main__":
    main()
