"""The demo policy: plausible agent behaviour with no model, no network and no key.

For a task with a reference fix (``gold.patch``) and, optionally, a plausible
wrong one (``wrong.patch``), it builds a *bank* of actions: looking at the files
the fix touches, searching for the functions it changes, running the tests, the
hunks of the right and of the wrong fix as ``str_replace`` edits, undoing a
wrong fix, and submitting. At each turn it reads the path so far to find its
stage (explore, edit, test, revise, submit) and draws from what fits with a
seeded random generator, so some paths resolve the task and some do not, and
searching pays. Shown everywhere as "demo policy".

The same bank and stage logic drive the scripted model of the test server
(``tests/fake_llm``), which plays them through real tool calls.
"""

from __future__ import annotations

import hashlib
import random
import re
import shlex
import time
from dataclasses import dataclass, field

from trajscope.engine.actions import Action
from trajscope.engine.policy.base import Context, PolicyError, Proposal
from trajscope.engine.trace import Step

NAME = "demo policy"
EDIT_TOOLS = ("str_replace", "insert", "create")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@ ?(.*)$")
_SYMBOL = re.compile(r"\b(?:def|class)\s+([A-Za-z_]\w*)")


def patch_edits(patch: str) -> list[Action]:
    """The hunks of a unified diff as editor actions (``str_replace``, or ``create`` for new files)."""
    edits: list[Action] = []
    path, new_file, old, new = None, False, [], []

    def flush():
        if path is None or not (old or new):
            return
        if new_file:
            edits.append(Action("create", {"path": path, "content": "".join(new)}))
        else:
            edits.append(Action("str_replace", {"path": path, "old": "".join(old), "new": "".join(new)}))

    for line in patch.splitlines(keepends=True):
        if line.startswith("--- "):
            flush()
            path, old, new = None, [], []
            new_file = line[4:].strip() == "/dev/null"
        elif line.startswith("+++ "):
            path = line[4:].strip().removeprefix("b/")
        elif _HUNK.match(line):
            if not new_file:
                flush()
                old, new = [], []
        elif path is not None and line[:1] in (" ", "-", "+"):
            body = line[1:]
            if line[0] != "+":
                old.append(body)
            if line[0] != "-":
                new.append(body)
        elif line.startswith("\\") and (old or new):  # "\ No newline at end of file"
            for part in (old, new):
                if part and part[-1].endswith("\n"):
                    part[-1] = part[-1][:-1]
    flush()
    return edits


def undo(edit: Action) -> Action:
    """The edit that takes ``edit`` back."""
    args = edit.args
    if edit.tool == "create":
        return Action("bash", {"command": f"rm -f {shlex.quote(args['path'])}"})
    return Action("str_replace", {"path": args["path"], "old": args["new"], "new": args["old"]})


@dataclass
class Bank:
    """What the demo policy can do on one task."""

    gold: list[Action]
    wrong: list[Action]
    explore: list[tuple[str, Action]]  # (thought, action)
    test: Action
    files: list[str] = field(default_factory=list)
    repro: Action | None = None  # a script that checks the example

    @classmethod
    def for_task(cls, task) -> Bank:
        gold_text = getattr(task, "gold_patch", None)
        if not gold_text:
            raise PolicyError(f"the demo policy needs a reference fix (gold.patch) for {task.instance_id}")
        wrong_text = ""
        if getattr(task, "path", None) is not None and (task.path / "wrong.patch").is_file():
            wrong_text = (task.path / "wrong.patch").read_text(encoding="utf-8")
        gold, wrong = patch_edits(gold_text), patch_edits(wrong_text)
        files = list(dict.fromkeys(e.args["path"] for e in gold))
        symbols = list(dict.fromkeys(_SYMBOL.findall(gold_text)))
        visible = re.sub(r"\s-rA\b", " -q", task.test_command)
        explore = [("Let me see how the repository is laid out.", Action("view", {"path": "."}))]
        explore += [(f"The issue points at {f}; let me read it.", Action("view", {"path": f})) for f in files]
        explore += [
            (f"Where is {s} defined and used?", Action("search", {"pattern": rf"\b{s}\b"})) for s in symbols[:3]
        ]
        repro = reproduction(task)
        if repro is not None:
            explore.append(("Let me reproduce the example from the issue.", repro))
        explore.append(("Let me run the existing tests.", Action("bash", {"command": visible})))
        return cls(gold, wrong, explore, Action("bash", {"command": visible}), files, repro)

    def difficulty(self, task) -> float:
        """The chance that a first fix is the right one: a fixed property of each task."""
        digest = hashlib.sha256(task.instance_id.encode()).digest()
        return 0.1 + 0.5 * digest[0] / 255


_CODE_BLOCK = re.compile(r"```(\w*)[^\n]*\n(.*?)```", re.DOTALL)


_EXCEPTION = re.compile(r"^(Traceback|[\w.]*(Error|Exception)\b)")


def reproduction(task) -> Action | None:
    """A script that runs the example the issue shows, as a careful agent writes one: the
    issue's own interpreter session (``>>>`` lines), each expression's value printed and
    checked to differ from the wrong result the issue reports (an error the issue shows
    simply fails the script); or its Python snippet when that stands alone. Never the
    hidden tests (they are not the agent's to see). None when the issue shows no
    runnable example."""
    import ast

    for lang, body in _CODE_BLOCK.findall(task.problem_statement or ""):
        lines = body.splitlines()
        if any(line.startswith(">>> ") for line in lines):
            statements: list[list[str]] = []  # [statement, what the issue shows it printed]
            for line in lines:
                if line.startswith(">>> "):
                    statements.append([line[4:], ""])
                elif line.startswith("... ") and statements:
                    statements[-1][0] += "\n" + line[4:]
                elif statements and line.strip():
                    statements[-1][1] += ("\n" if statements[-1][1] else "") + line
            script = []
            for statement, shown in statements:
                try:
                    ast.parse(statement, mode="eval")
                except SyntaxError:
                    script.append(statement)
                    continue
                script.append(f"got = {statement}\nprint(repr(got))")
                if shown and not _EXCEPTION.match(shown):
                    script.append(f"assert repr(got) != {shown!r}, 'still what the issue reports: ' + {shown!r}")
        elif lang in ("python", "py") and "import " in body:
            script = [body.rstrip()]
        else:
            continue
        code = "\n".join(script) + "\n"
        try:
            ast.parse(code)
        except SyntaxError:
            continue
        return Action("bash", {"command": f"python3 - <<'EOF'\n{code}EOF"})
    return None


def _same(a: Action, b: Action) -> bool:
    return a.tool == b.tool and a.args == b.args


def _is_edit(action: Action) -> bool:
    return action.tool in EDIT_TOOLS or (action.tool == "bash" and action.raw.startswith("rm -f "))


def _where(action: Action, actions: list[Action]) -> bool:
    return any(_same(action, a) for a in actions)


def next_action(bank: Bank, steps: list[Step], rng: random.Random, p_right: float) -> tuple[str, Action]:
    """The demo policy's next (thought, action) after ``steps``.

    The current plan is the fix the latest edits belong to: the right one, the wrong
    one, or the undoing of the wrong one after the tests showed it failing.
    """
    undos = [undo(w) for w in reversed(bank.wrong)]
    plan_name, since = None, 0
    edits = [s.action for s in steps if _is_edit(s.action)]
    for i, action in enumerate(edits):
        name = (
            "gold"
            if _where(action, bank.gold)
            else "wrong"
            if _where(action, bank.wrong)
            else "undo"
            if _where(action, undos)
            else None
        )
        if name is not None and name != plan_name:
            plan_name, since = name, i
    plan = {"gold": bank.gold, "wrong": bank.wrong, "undo": undos}.get(plan_name)
    if plan is not None:
        pending = [e for e in plan if not _where(e, edits[since:])]
        if pending:
            if plan_name == "undo":
                return "Undoing the rest of my change.", pending[0]
            return f"The same change is needed further down in {pending[0].args['path']}.", pending[0]
    if plan_name == "undo":  # the wrong fix is gone: try again, having learnt from the failure
        if rng.random() < 0.8:
            return f"Now the right change, in {bank.gold[0].args['path']}.", bank.gold[0]
        return "I could not find a better fix; submitting what I have.", Action("submit")
    if plan is None:  # nothing applied yet: explore, then choose a fix
        explored = [s for s in steps if s.action.tool in ("view", "search") or _same(s.action, bank.test)]
        if len(explored) < 2 or (len(explored) < len(bank.explore) and rng.random() < 0.35):
            fresh = [(t, a) for t, a in bank.explore if not _where(a, [s.action for s in steps])]
            if fresh:
                return fresh[0] if not explored else rng.choice(fresh)
        if steps and rng.random() < 0.04:
            return "I think the code is fine as it is; submitting.", Action("submit")
        chosen = bank.gold if rng.random() < p_right or not bank.wrong else bank.wrong
        return f"I see the problem in {chosen[0].args['path']}; let me fix it there.", chosen[0]
    last_edit = max(i for i, s in enumerate(steps) if _is_edit(s.action))
    checks = [
        s
        for s in steps[last_edit + 1 :]
        if _same(s.action, bank.test) or (bank.repro is not None and _same(s.action, bank.repro))
    ]
    if not checks:
        draw = rng.random()
        if bank.repro is not None and draw < 0.4:
            return "Let me run the example from the issue again.", bank.repro
        if draw < 0.75:
            return "Let me run the tests to check the fix.", bank.test
        return "That should fix the issue; submitting.", Action("submit")
    if checks[-1].exit_code not in (0, None):
        if plan_name == "wrong" and rng.random() < 0.6:
            return "The check fails; my change was wrong. Let me undo it and look again.", undos[0]
        return "It still fails, but I believe the fix addresses the issue; submitting.", Action("submit")
    if len(checks) == 1 and rng.random() < 0.3:
        other = bank.test if _same(checks[0].action, bank.repro or bank.test) and bank.repro else bank.repro
        if other is not None and not _same(other, checks[0].action):
            return "That passes; let me also run the other check.", other
    return "The checks pass; submitting the fix.", Action("submit")


class DemoPolicy:
    """Draws plausible actions from a task's bank; deterministic for a seed and a path."""

    name = NAME

    def __init__(self, seed: int = 0, p_right: float | None = None, pace: float = 0.0):
        self.seed, self.p_right = seed, p_right
        self.pace = pace  # seconds each proposal takes, so a live demo grows at a watchable speed
        self._banks: dict[str, Bank] = {}
        self._draws = 0

    def bank(self, task) -> Bank:
        if task.instance_id not in self._banks:
            self._banks[task.instance_id] = Bank.for_task(task)
        return self._banks[task.instance_id]

    def propose(self, context: Context, n: int = 1, temperature: float | None = None) -> list[Proposal]:
        bank = self.bank(context.task)
        if self.pace > 0:
            time.sleep(self.pace)
        p_right = self.p_right if self.p_right is not None else bank.difficulty(context.task)
        if context.hint:  # a person's hint makes the right fix likelier
            p_right = min(1.0, p_right + 0.4)
        proposals = []
        for _ in range(n):
            self._draws += 1
            seed = context.seed if context.seed is not None else self.seed
            rng = random.Random(f"{seed}|{context.task.instance_id}|{context.key()}|{self._draws}")
            thought, action = next_action(bank, context.steps, rng, p_right)
            proposals.append(Proposal(Action(action.tool, dict(action.args)), thought, proposer="policy", model=NAME))
        return proposals
