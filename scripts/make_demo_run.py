"""Writes demo_data/runs/calc-divide.jsonl: a scripted, seeded example of a DARS-style search.

It stands in for a recorded live run until `trajscope demo` records real ones; every
event is of the kinds a live search writes (scores, prunes, a promotion, submissions
with verify results), so the viewer, replay and the tests exercise all of them.
Run: python scripts/make_demo_run.py
"""

from __future__ import annotations

import random
from pathlib import Path

from trajscope.engine.actions import make_action
from trajscope.engine.events import make_event, write_events
from trajscope.engine.formats.builder import diff_stat

RUN = "calc-divide"
OUT = Path(__file__).resolve().parent.parent / "demo_data" / "runs" / f"{RUN}.jsonl"
ISSUE = """divide() crashes on a zero divisor

Calling `calc.divide(1, 0)` raises a bare ZeroDivisionError deep in the stack.
It should raise `calc.CalcError("cannot divide by zero")` like the other operations do.
"""
RED, GREEN, RESET = "\x1b[31m", "\x1b[32m", "\x1b[0m"

GOOD_PATCH = """diff --git a/calc/ops.py b/calc/ops.py
--- a/calc/ops.py
+++ b/calc/ops.py
@@ -14,4 +14,6 @@ def multiply(a, b):
 
 def divide(a, b):
     \"\"\"Return a / b.\"\"\"
+    if b == 0:
+        raise CalcError("cannot divide by zero")
     return a / b
"""
BAD_PATCH = """diff --git a/calc/ops.py b/calc/ops.py
--- a/calc/ops.py
+++ b/calc/ops.py
@@ -14,4 +14,7 @@ def multiply(a, b):
 
 def divide(a, b):
     \"\"\"Return a / b.\"\"\"
-    return a / b
+    try:
+        return a / b
+    except ZeroDivisionError:
+        return float("inf")
"""
FAIL_OUT = (
    f"{RED}F{RESET}..\n=================================== FAILURES ===================================\n"
    "___________________________ test_divide_by_zero ___________________________\n"
    ">       with pytest.raises(CalcError):\nE       Failed: DID NOT RAISE <class 'calc.errors.CalcError'>\n"
    f"{RED}1 failed, 2 passed in 0.04s{RESET}\n"
)
PASS_OUT = f"...\n{GREEN}3 passed in 0.03s{RESET}\n"


class Script:
    def __init__(self) -> None:
        self.rng = random.Random(7)
        self.events = []
        self.ts = 1_760_000_000.0
        self.next_id = 1

    def emit(self, type_: str, **fields) -> None:
        self.ts += self.rng.uniform(0.2, 0.9)
        self.events.append(make_event(type_, RUN, ts=round(self.ts, 3), **fields))

    def node(
        self,
        parent,
        tool,
        args,
        thought,
        observation,
        exit_code=0,
        score=None,
        patch=None,
        candidates=None,
        tokens=(900, 120),
    ):
        node_id = str(self.next_id)
        self.next_id += 1
        cost = round((tokens[0] * 0.15 + tokens[1] * 0.6) / 1e6, 6)
        self.emit(
            "node_added",
            id=node_id,
            parent=parent,
            action=make_action(tool, args),
            thought=thought,
            proposer="policy",
            tokens_in=tokens[0],
            tokens_out=tokens[1],
            cost=cost,
            **({"candidates": candidates} if candidates else {}),
        )
        self.emit("node_started", id=node_id)
        self.emit(
            "node_executed",
            id=node_id,
            observation=observation,
            exit_code=exit_code,
            duration_s=round(self.rng.uniform(0.05, 1.4), 3),
            state_ref=f"refs/trajscope/{node_id}",
            diff_stat=diff_stat(patch),
            **({"patch": patch} if patch else {}),
        )
        if score is not None:
            self.emit("node_scored", id=node_id, scorer="builtin", score=score)
        return node_id


def build() -> list[dict]:
    s = Script()
    s.emit(
        "run_started",
        task={"instance_id": "demo__calc-divide", "problem_statement": ISSUE, "repo": "demo/calc"},
        config={"strategy": "dars", "policy": "demo policy", "prm": "builtin", "seed": 7},
    )
    n1 = s.node(
        None,
        "bash",
        {"command": "ls -R calc tests"},
        "Look at the layout first.",
        "calc:\n__init__.py  errors.py  ops.py\n\ntests:\ntest_ops.py\n",
        score=0.52,
    )
    n2 = s.node(
        n1,
        "view",
        {"path": "calc/ops.py"},
        "divide() lives in ops.py.",
        "\n".join(
            f"{i:>3}  {line}"
            for i, line in enumerate(
                [
                    "from calc.errors import CalcError",
                    "",
                    "",
                    "def add(a, b):",
                    "    return a + b",
                    "",
                    "",
                    "def multiply(a, b):",
                    "    return a * b",
                    "",
                    "",
                    "def divide(a, b):",
                    '    """Return a / b."""',
                    "    return a / b",
                ],
                1,
            )
        ),
        score=0.55,
    )
    n3 = s.node(
        n2,
        "bash",
        {"command": "python -m pytest -q tests"},
        "Reproduce with the tests.",
        FAIL_OUT,
        exit_code=1,
        score=0.58,
    )
    # Branch A: the right fix.
    a1 = s.node(
        n3,
        "str_replace",
        {
            "path": "calc/ops.py",
            "old": '    """Return a / b."""\n',
            "new": '    """Return a / b."""\n    if b == 0:\n        raise CalcError("cannot divide by zero")\n',
        },
        "Raise CalcError before dividing.",
        "The file calc/ops.py has been edited.",
        score=0.74,
        patch=GOOD_PATCH,
    )
    a2 = s.node(
        a1,
        "bash",
        {"command": "python -m pytest -q tests"},
        "Run the tests again.",
        PASS_OUT,
        score=0.86,
        patch=GOOD_PATCH,
    )
    a3 = s.node(a2, "submit", {}, "The tests pass; submit.", GOOD_PATCH, score=0.91, patch=GOOD_PATCH)
    s.emit(
        "submitted",
        id=a3,
        patch=GOOD_PATCH,
        verified={
            "resolved": True,
            "passed": [
                "tests/test_ops.py::test_divide_by_zero",
                "tests/test_ops.py::test_add",
                "tests/test_ops.py::test_multiply",
            ],
            "failed": [],
        },
    )
    # DARS expands the edit: branch B swallows the error instead.
    s.emit("branch_requested", parent=n3, n=3, hint=None, by="engine")
    b1 = s.node(
        n3,
        "str_replace",
        {
            "path": "calc/ops.py",
            "old": "    return a / b\n",
            "new": "    try:\n        return a / b\n    except ZeroDivisionError:\n        return float('inf')\n",
        },
        "Return infinity instead of crashing.",
        "The file calc/ops.py has been edited.",
        score=0.31,
        patch=BAD_PATCH,
        candidates=[
            {"text": "insert a guard clause raising CalcError", "why": "duplicate of branch #4"},
            {"text": "catch ZeroDivisionError and return inf", "why": "chosen by the critic"},
            {"text": "change the test to expect ZeroDivisionError", "why": "edits tests; rejected"},
        ],
    )
    b2 = s.node(
        b1,
        "bash",
        {"command": "python -m pytest -q tests"},
        "Check.",
        FAIL_OUT,
        exit_code=1,
        score=0.18,
        patch=BAD_PATCH,
    )
    b3 = s.node(b2, "submit", {}, "Submit anyway.", BAD_PATCH, score=0.12, patch=BAD_PATCH)
    s.emit(
        "submitted",
        id=b3,
        patch=BAD_PATCH,
        verified={
            "resolved": False,
            "passed": ["tests/test_ops.py::test_add", "tests/test_ops.py::test_multiply"],
            "failed": ["tests/test_ops.py::test_divide_by_zero"],
        },
    )
    # PRM pruning at the first step: candidates scored and cut.
    p1 = s.node(None, "bash", {"command": "rm -rf tests && git status"}, "Start clean.", "", score=0.04)
    s.emit("node_status", id=p1, status="pruned", by="engine", reason="PRM score 0.04 below the beam")
    p2 = s.node(
        n1,
        "search",
        {"pattern": "ZeroDivisionError", "path": "."},
        "Where is the error raised?",
        "tests/test_ops.py:12:    with pytest.raises(CalcError):\n",
        score=0.49,
    )
    p3 = s.node(
        p2,
        "view",
        {"path": "calc/errors.py"},
        "What does CalcError look like?",
        '  1  class CalcError(ValueError):\n  2      """An operation failed."""\n',
        score=0.61,
    )
    s.emit("node_status", id=p3, status="promoted", by="human", reason="a better route to the fix")
    c1 = s.node(
        p3,
        "create",
        {"path": "repro.py", "content": "from calc.ops import divide\ndivide(1, 0)\n"},
        "Write a reproduction script.",
        "File created: repro.py",
        score=0.57,
        patch="diff --git a/repro.py b/repro.py\nnew file mode 100644\n--- /dev/null\n+++ b/repro.py\n@@ -0,0 +1,2 @@\n+from calc.ops import divide\n+divide(1, 0)\n",
    )
    c2 = s.node(
        c1,
        "bash",
        {"command": "python repro.py"},
        "Run it.",
        'Traceback (most recent call last):\n  File "repro.py", line 2, in <module>\n'
        "ZeroDivisionError: division by zero\n",
        exit_code=1,
        score=0.63,
    )
    f1 = s.node(
        c2,
        "bash",
        {"command": "python -m pytest -q tests --timeout 600"},
        "Run the whole suite.",
        "",
        exit_code=None,
        score=None,
    )
    s.emit("node_status", id=f1, status="failed", by="engine", reason="command timed out after 60 s")
    s.emit("run_finished", reason="budget: nodes")
    return s.events


if __name__ == "__main__":
    events = build()
    write_events(OUT, events)
    print(f"wrote {OUT} ({len(events)} events)")
