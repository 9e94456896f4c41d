"""Rubric flags of a trajectory, detected from the trace alone (docs/architecture.md section 7).

After the published analysis of a DSPy coding agent's SWE-bench Lite traces, where an
LLM judge tagged each trace with rubric flags; here each flag has a deterministic
detector, and every flag names the steps that raised it.

- memory_drift: the agent works from a wrong memory of the code: an edit whose old
  text is not in the file, or re-reading a file it already read with no change between.
- overconfidence: submitting while the last check after the last edit failed, or with
  no check at all after an edit.
- strange_behaviour: the same action twice in a row, one action three times, or edits
  to the project's test files.
- self_correction: a failed check after an edit, then another edit, then a check that
  passes.
- validation: a check that passes after the last edit.
- planning: looking at the code and reproducing the issue before the first edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trajscope.engine.actions import Action
from trajscope.engine.analysis.persistent import PMap, items, push
from trajscope.engine.prm.features import has_error, is_test_run, signature, test_summary
from trajscope.engine.trace import Step
from trajscope.engine.tree import ROOT, Node, Tree

FLAGS = ("memory_drift", "overconfidence", "strange_behaviour", "self_correction", "validation", "planning")
EDITS = ("edit", "append", "create")
LOOKS = ("view", "search")
_NOT_FOUND = re.compile(
    r"was not found|did not appear verbatim|no replacement was performed|"
    r"no match(es)? found for|could not find the text",
    re.IGNORECASE,
)
_READ_FILE = re.compile(r"(?:\bview|\bcat|\bnl|\bhead|\btail|sed -n \S+)\s+(?:-\S+\s+)*['\"]?([\w./-]+\.\w+)")
# SWE-agent's and DARS's windowed editor: ``create F`` and ``open F`` make F the open file, and
# their ``edit``/``append``/``insert`` commands name no file: they change the open one.
_OPENS = re.compile(r"^\s*(?:create|open)\s+['\"]?([\w./-]+\.\w+)")
_WINDOWED = re.compile(r"^\s*(?:edit|append|insert)\b")
_ANY_FILE = re.compile(r"[\w./-]+\.\w+")
_TEST_FILE = re.compile(r"(^|/)(tests?/|test_[\w]+\.py$|[\w]+_test\.py$|conftest\.py$)")


@dataclass
class Flag:
    name: str
    steps: list[str] = field(default_factory=list)  # the nodes that raised it
    why: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "steps": self.steps, "why": self.why}


def _file(node: Node) -> str | None:
    args = (node.action or {}).get("args") or {}
    if args.get("path"):
        return str(args["path"]).lstrip("./") or None
    found = _READ_FILE.search(str(args.get("command") or (node.action or {}).get("raw") or ""))
    return found.group(1).lstrip("./") if found else None


def _edited_files(node: Node) -> set[str]:
    path = _file(node)
    if path:
        return {path}
    command = str(((node.action or {}).get("args") or {}).get("command") or (node.action or {}).get("raw") or "")
    return {m.lstrip("./") for m in _ANY_FILE.findall(command)}


def _check(node: Node, step: Step) -> bool | None:
    """True / False for a command that ran (tests or a script), None for other steps. Traces
    without exit codes (SWE-agent's) are judged by their output."""
    if node.kind != "run" or (node.exit_code is None and not node.observation):
        return None
    summary = test_summary(node.observation) if is_test_run(step) else None
    if summary is not None:
        return summary[1] == 0 and node.exit_code in (0, None)
    return node.exit_code == 0 if node.exit_code is not None else not has_error(step)


class Scanner:
    """The detectors as a fold over a path: ``extend`` one node at a time, ``flags`` at any
    point. Each step costs the same however deep it is, and every part of the state is a
    persistent value (chains and PMaps, see ``persistent``), so ``copy`` is constant time and
    a checkpoint (``FlagCache``) shares everything with the steps above it."""

    __slots__ = (
        "n",
        "last_id",
        "last_kind",
        "drift",
        "read",
        "changed",
        "first_edit",
        "last_edit",
        "last_check",
        "last_pass",
        "prev_sig",
        "sigs",
        "triples",
        "repeats",
        "test_edits",
        "f1",
        "fix_edit",
        "fixed_by",
        "created",
        "last_script",
        "first_fix",
        "first_look",
        "first_check",
        "open_file",
    )

    def __init__(self) -> None:
        self.n, self.last_id, self.last_kind = 0, None, None
        self.drift = None  # chains of node ids or (index, id), newest first
        self.read = PMap()  # files viewed (a set: the values are True)
        self.changed = PMap()  # files edited since they were last viewed
        self.first_edit = self.last_edit = None  # (index, id)
        self.last_check = self.last_pass = None  # after the last edit: (index, id, ok) / (index, id)
        self.prev_sig = None
        self.sigs = PMap()  # signature -> (times seen, chain of (index, id))
        self.triples = None  # signatures seen three times or more, in the order they got there
        self.repeats = None  # the same action as the step before
        self.test_edits = None
        self.f1 = self.fix_edit = self.fixed_by = None  # self-correction: failed check, new edit, passing check
        self.created = PMap()
        self.last_script = -2
        self.first_fix = None  # index
        self.first_look = self.first_check = None  # (index, id)
        self.open_file: str | None = None  # the windowed editor's open file

    def copy(self) -> Scanner:
        other = Scanner.__new__(Scanner)
        for name in self.__slots__:  # every value is immutable: sharing it is copying it
            setattr(other, name, getattr(self, name))
        return other

    def extend(self, node: Node) -> None:
        step = Step(Action.from_dict(node.action or {}), node.thought, node.observation, node.exit_code)
        i, path = self.n, _file(node)
        command = str(((node.action or {}).get("args") or {}).get("command") or "")
        if (opened := _OPENS.match(command)) is not None:
            self.open_file = opened.group(1).lstrip("./") or None
            if path is None and node.kind in EDITS:
                path = self.open_file
        elif path is None and node.kind in EDITS and _WINDOWED.match(command):
            path = self.open_file
        self.n, self.last_id, self.last_kind = i + 1, node.id, node.kind
        check = _check(node, step)
        if node.kind in EDITS:
            if _NOT_FOUND.search(node.observation or ""):
                self.drift = push(self.drift, node.id)
            for edited in _edited_files(node):
                self.changed = self.changed.set(edited, True)
            if self.first_edit is None:
                self.first_edit = (i, node.id)
            self.last_edit, self.last_check, self.last_pass = (i, node.id), None, None
            if self.f1 is not None and self.fix_edit is None:
                self.fix_edit = (i, node.id)
            # a test file the agent created on this path (its own reproduction script) is not one
            # of the project's: only a change to a file that was there before counts
            own = node.kind == "create" or (path is not None and path in self.created)
            if own or (node.kind == "append" and self.last_script == i - 1):
                self.created = self.created.set(path, True)
                self.last_script = i
            elif self.first_fix is None:
                self.first_fix = i
            if not own and _TEST_FILE.search(path or ""):
                self.test_edits = push(self.test_edits, (i, node.id))
        elif node.kind == "view" and path:
            if path in self.read and path not in self.changed:
                self.drift = push(self.drift, node.id)
            self.read = self.read.set(path, True)
            self.changed = self.changed.discard(path)
        if node.kind in LOOKS and self.first_look is None:
            self.first_look = (i, node.id)
        if check is not None:
            if self.first_check is None:
                self.first_check = (i, node.id)
            if self.last_edit is not None:
                self.last_check = (i, node.id, check)
                if check:
                    self.last_pass = (i, node.id)
            if check is False and self.first_edit is not None and self.f1 is None:
                self.f1 = (i, node.id)
            if check and self.fix_edit is not None and self.fixed_by is None:
                self.fixed_by = (i, node.id)
        sig = signature(step)
        if sig == self.prev_sig:
            self.repeats = push(self.repeats, (i, node.id))
        self.prev_sig = sig
        times, seen = self.sigs.get(sig, (0, None))
        self.sigs = self.sigs.set(sig, (times + 1, push(seen, (i, node.id))))
        if times + 1 == 3:
            self.triples = push(self.triples, sig)

    def flags(self) -> list[Flag]:
        flags: list[Flag] = []
        if self.drift:
            flags.append(
                Flag("memory_drift", items(self.drift), "edits of text not in the file, or files re-read unchanged")
            )
        if self.last_kind == "submit" and self.last_edit is not None:
            if self.last_check is None:
                flags.append(
                    Flag("overconfidence", [self.last_edit[1], self.last_id], "submitted an edit that was never run")
                )
            elif self.last_check[2] is False:
                flags.append(
                    Flag("overconfidence", [self.last_check[1], self.last_id], "submitted with the last check failing")
                )
        strange = dict(items(self.repeats))
        for sig in items(self.triples):
            strange.update(items(self.sigs.get(sig)[1]))
        strange.update(items(self.test_edits))
        if strange:
            flags.append(
                Flag(
                    "strange_behaviour",
                    [strange[i] for i in sorted(strange)],
                    "repeated actions, loops, or edits of the project's tests",
                )
            )
        if self.fixed_by is not None:
            flags.append(
                Flag(
                    "self_correction",
                    [self.f1[1], self.fix_edit[1], self.fixed_by[1]],
                    "a failed check, a new edit, then a passing check",
                )
            )
        if self.last_edit is not None:
            if self.last_pass is not None:
                flags.append(Flag("validation", [self.last_pass[1]], "a check passes after the last edit"))
            first = self.first_fix if self.first_fix is not None else self.first_edit[0]
            look, check = self.first_look, self.first_check
            if look is not None and look[0] < first and check is not None and check[0] < first:
                flags.append(Flag("planning", [look[1], check[1]], "read the code and reproduced the issue first"))
        return flags


def detect(tree: Tree, leaf: str) -> list[Flag]:
    """The flags raised on the path from the task to ``leaf``."""
    scanner = Scanner()
    for node in tree.path(leaf):
        if node.id != ROOT:
            scanner.extend(node)
    return scanner.flags()


class FlagCache:
    """Flags at any node of a tree without walking from the task each time: scanner states
    are kept every ``every`` steps along each path, so a node's flags cost at most that many
    steps once its ancestors' checkpoint exists, and a checkpoint holds only what changed since
    the one above it (a path of 100,000 steps held 2.8 GB when each copied the lists). ``build`` makes every
    checkpoint in one pass over the tree; ``forget`` drops them after the tree changed."""

    def __init__(self, tree: Tree, every: int = 32) -> None:
        self.tree, self.every = tree, every
        self.states: dict[str, Scanner] = {}
        self.building = False  # set by whoever runs ``build`` in a thread, until it has run
        self.cancelled = False  # ``build`` stops at its next node (the app quits: nothing waits for it)

    def near(self, node_id: str, limit: int = 1024) -> bool:
        """Whether ``flags_at(node_id)`` walks at most ``limit`` steps (a checkpoint or the task is that close)."""
        tree, current = self.tree, node_id
        for _ in range(limit):
            if current == ROOT or current in self.states:
                return True
            current = tree.nodes[current].parent or ROOT
        return current == ROOT or current in self.states

    def forget(self) -> None:
        self.states.clear()

    def build(self) -> None:
        """Every checkpoint, depth first from the task (one extend per node)."""
        try:
            self._build()
        finally:
            self.building = False

    def _build(self) -> None:
        tree = self.tree
        stack = [(c, Scanner()) for c in reversed(tree.children(ROOT))]
        while stack and not self.cancelled:
            node_id, state = stack.pop()
            node = tree.nodes[node_id]
            state.extend(node)
            below = tree.children(node_id)
            if node.depth % self.every == 0:
                self.states[node_id] = state.copy()
            for i, child in enumerate(reversed(below)):
                stack.append((child, state if i == len(below) - 1 else state.copy()))

    def flags_at(self, node_id: str) -> list[Flag]:
        tree, chain, current = self.tree, [], node_id
        while current != ROOT and current not in self.states:
            chain.append(current)
            current = tree.nodes[current].parent or ROOT
        state = self.states[current].copy() if current != ROOT else Scanner()
        for step_id in reversed(chain):
            node = tree.nodes[step_id]
            state.extend(node)
            if node.depth % self.every == 0:
                self.states[step_id] = state.copy()
        return state.flags()


def outcome(tree: Tree, leaf: str) -> str:
    """``resolved``, ``failed`` (verified, not resolved) or ``unknown``."""
    node = tree.nodes[leaf]
    verified = node.verified
    if verified is None:
        return "unknown"
    return "resolved" if verified.get("resolved") else "failed"


def trajectories(tree: Tree) -> list[str]:
    """Leaves that ran or were submitted (the candidates a search scored and never ran are left out)."""
    return [
        n
        for n in tree.nodes
        if n != ROOT
        and not tree.children(n)
        and (tree.nodes[n].exit_code is not None or tree.nodes[n].status == "submitted")
    ]
