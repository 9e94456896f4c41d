"""Replaying an OpenHands run in the Docker sandbox, in the image laid out as SWE-bench's are
(the tests' own: the code at /testbed, the ``testbed`` environment activated), and
branching from it: the recorded /testbed paths, the editor's str_replace and CmdRunAction
commands rebuild the state, and the search's log holds the trunk."""

from __future__ import annotations

import json

import pytest

from trajscope.engine.branching import prepare
from trajscope.engine.replay import normalise_patch
from trajscope.engine.tasks import load_task
from tests.e2e.test_swebench import GOLD, INSTANCE, dataset, image  # noqa: F401 (fixtures)

pytestmark = pytest.mark.docker

RUN_ADD = "cd /testbed && python -c 'import calc; print(calc.add(2, 3))'"
EVENTS = [
    {"id": 0, "source": "user", "action": "message", "args": {"content": "calc.add subtracts."}},
    {"id": 1, "source": "agent", "action": "run", "args": {"command": RUN_ADD}},
    {"id": 2, "source": "agent", "observation": "run", "content": "-1", "extras": {"exit_code": 0}, "cause": 1},
    {
        "id": 3,
        "source": "agent",
        "action": "edit",
        "args": {
            "command": "str_replace",
            "path": "/testbed/src/calc/__init__.py",
            "old_str": "def add(a, b):\n    return a - b",
            "new_str": "def add(a, b):\n    return a + b",
        },
    },
    {"id": 4, "source": "agent", "observation": "edit", "content": "The file has been edited.", "cause": 3},
    {"id": 5, "source": "agent", "action": "run", "args": {"command": RUN_ADD}},
    {"id": 6, "source": "agent", "observation": "run", "content": "5", "extras": {"exit_code": 0}, "cause": 5},
    {"id": 7, "source": "agent", "action": "finish", "args": {"final_thought": "done"}},
]


def test_an_openhands_run_replays_in_the_swebench_layout_image(dataset, tmp_path):  # noqa: F811
    run = tmp_path / "openhands.json"
    run.write_text(json.dumps(EVENTS))
    task = load_task(dataset, INSTANCE)
    prefix = prepare(run, "3", task, "docker")  # the python runs only work in the activated testbed
    try:
        assert prefix.rebuilt.divergence is None and prefix.rebuilt.replayed == 3
        assert normalise_patch(prefix.box.diff()) == normalise_patch(GOLD)
        again = prefix.replayer.rebuild("1")  # an earlier step: restored, not replayed
        assert again.replayed == 0 and "return a - b" in prefix.box.read("src/calc/__init__.py")
    finally:
        prefix.box.close()
