"""The state at a node of an imported run, rebuilt in a sandbox by replaying the recorded
actions (docs/architecture.md section 2, "Replay").

An imported run has no snapshots: to branch from its step N, the steps up to N run again
in a fresh sandbox of the task, each with its own format's tool semantics
(``formats/replay_tools.py``), and each is checked against the record: the output
(normalised: times, object ids, temporary paths, the recorded repository root), whether
an editor refused it, and at a submission the state's diff against the recorded patch.
Replay is the fallback, never trusted blindly: the first divergence is one sentence naming
the step, and replay stops there unless asked to go on. Every step's state is snapshotted
on the way, so a second branch from the same run restores instead of replaying. Where
the record holds the patch at a node, the state can be rebuilt from it instead.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field

from trajscope.engine.actions import short_action
from trajscope.engine.errors import UserCausedError
from trajscope.engine.formats.replay_tools import ROOTS, Cursor, Outcome, Unreplayable, apply
from trajscope.engine.tree import ROOT, Tree

_TRAILER = re.compile(r"^\((?:Open file|Current directory): .*\)\s*$|^bash-\$\s*$", re.MULTILINE)
_NORMALISE = (
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:Z|[+-]\d\d:?\d\d)?"), "<time>"),
    (re.compile(r"\b\d\d:\d\d:\d\d(?:\.\d+)?\b"), "<time>"),
    (re.compile(r"\b(?:in|took) \d+(?:\.\d+)?\s*(?:s|ms|seconds)\b"), "in <duration>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<id>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<id>"),
    (re.compile(r"(?:/private)?/(?:tmp|var/folders)/[^\s'\":)]+"), "<tmp>"),
)
_LOCAL_ROOT = re.compile(r"(?:/private)?/tmp/trajscope-[^/\s]+/sb\d+/repo\b")  # a local sandbox's repository
_INDEX_LINE = re.compile(r"^index [0-9a-f]+\.\.[0-9a-f]+.*$", re.MULTILINE)
_EXCERPT = 80


class ReplayError(UserCausedError):
    """A state that replay cannot rebuild; the message is one sentence naming the step.
    ``patch_offered``: the record holds the patch at that node, which can rebuild it instead."""

    patch_offered = False


class ReplayDiverged(ReplayError):
    """Replay ran but its output differs from the record at ``divergence.node``."""

    def __init__(self, divergence: Divergence):
        super().__init__(divergence.sentence + "; go on despite it only if that difference does not matter")
        self.divergence = divergence


@dataclass(frozen=True)
class Divergence:
    node: str
    step: int
    sentence: str


@dataclass
class Rebuilt:
    """The state at ``node`` in the replayer's sandbox: how it was reached and in what time."""

    node: str
    ref: str
    replayed: int  # steps run again (0: restored from a snapshot taken on the way)
    restored_from: str | None  # the node whose snapshot it started from
    seconds: float
    divergence: Divergence | None = None
    from_patch: bool = False
    skipped: list[str] = field(default_factory=list)  # steps with nothing to run (read-only, messages)


def normalise(text: str | None, repo: str = "") -> str:
    """Output with what differs between two runs of the same command taken out."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    text = _TRAILER.sub("", text)
    text = _LOCAL_ROOT.sub("<repo>", text)
    for root in [r for r in (repo.rstrip("/"), *ROOTS) if r]:  # only a whole path, not a path's tail
        text = re.sub(r"(?<![\w./-])" + re.escape(root) + r"(?![\w.-])", "<repo>", text)
    for pattern, replacement in _NORMALISE:
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def normalise_patch(patch: str | None) -> str:
    """A diff without what differs between equal changes (blob ids, line endings, blank ends)."""
    return normalise(_INDEX_LINE.sub("", (patch or "").replace("\r\n", "\n"))).replace("\n\n", "\n")


def _first_difference(theirs: str, mine: str) -> str:
    """The first line where two outputs part, as ``line N: recorded '…', replayed '…'``."""
    a, b = theirs.split("\n"), mine.split("\n")
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))

    def line(lines: list[str]) -> str:
        text = lines[i] if i < len(lines) else "(the output ends here)"
        return repr(text[:_EXCERPT] + ("…" if len(text) > _EXCERPT else ""))

    return f"line {i + 1}: recorded {line(a)}, replayed {line(b)}"


class Replayer:
    """Rebuilds states of one imported run (its folded ``tree``) in one sandbox, keeping a
    snapshot of every state it passes; snapshots live in that sandbox's store, so they serve
    it and its forks for as long as it is open."""

    def __init__(self, tree: Tree, box, timeout: float = 120.0):
        self.tree, self.box, self.timeout = tree, box, timeout
        self.refs: dict[str, str] = {ROOT: box.base}
        self._cursors: dict[str, Cursor] = {ROOT: Cursor()}
        self.divergences: dict[str, Divergence] = {}
        self.native = "source_format" not in tree.config  # a run log of trajscope's own

    def _step_name(self, node) -> str:
        return f"step {node.depth} ({short_action(node.action, 50)})"

    def _check(self, node, outcome: Outcome, repo: str) -> Divergence | None:
        recorded = node.observation
        if outcome.compare == "output" and recorded is not None:
            mine, theirs = normalise(outcome.text, repo), normalise(recorded, repo)
            if mine != theirs:
                return Divergence(
                    node.id,
                    node.depth,
                    f"replayed output differs from the recorded one from {self._step_name(node)}, "
                    + _first_difference(theirs, mine),
                )
        if outcome.compare == "output" and None not in (node.exit_code, outcome.exit_code):
            if node.exit_code != outcome.exit_code:
                return Divergence(
                    node.id,
                    node.depth,
                    f"the replayed exit code differs from the recorded one at {self._step_name(node)}: "
                    f"recorded {node.exit_code}, replayed {outcome.exit_code}",
                )
        if outcome.compare == "patch":
            recorded_patch = self.tree.patch_at(node.id) or _patch_in(recorded)
            if recorded_patch is not None and normalise_patch(outcome.text) != normalise_patch(recorded_patch):
                return Divergence(
                    node.id,
                    node.depth,
                    f"the replayed state's diff differs from the patch recorded at {self._step_name(node)}",
                )
        return None

    def rebuild(self, node_id: str, *, go_on: bool = False, box=None) -> Rebuilt:
        """Put the sandbox (or ``box``, a fork sharing its store) in the state at ``node_id``:
        restore the deepest snapshot on its path, replay the rest. ReplayError names a step
        that cannot run; ReplayDiverged the first step whose result differs from the record,
        unless ``go_on``."""
        started = time.perf_counter()
        box = box or self.box
        if node_id not in self.tree.nodes:
            raise ReplayError(f"the run has no step {node_id}")
        path = [n for n in self.tree.path(node_id) if n.id != ROOT]
        start = max((i for i, n in enumerate(path) if n.id in self.refs), default=-1)
        origin = path[start].id if start >= 0 else ROOT
        box.restore(self.refs[origin])
        cursor = self._cursors.get(origin, Cursor()).copy()
        first: Divergence | None = next(
            (self.divergences[n.id] for n in path[: start + 1] if n.id in self.divergences), None
        )
        skipped = []
        for node in path[start + 1 :]:
            try:
                outcome = apply(node.action, node.observation, box, cursor, self.timeout, self.native)
            except Unreplayable as exc:
                offered = bool(self.patch_for(node_id))
                hint = "; its recorded patch can rebuild the state instead" if offered else ""
                error = ReplayError(f"{self._step_name(node)} cannot be replayed: {exc}{hint}")
                error.patch_offered = offered
                raise error from None
            if outcome.compare == "none":
                skipped.append(node.id)
            divergence = self._check(node, outcome, box.repo)
            self.refs[node.id] = box.snapshot()
            self._cursors[node.id] = cursor.copy()
            if divergence is not None:
                self.divergences[node.id] = divergence
                first = first or divergence
                if not go_on:
                    raise ReplayDiverged(divergence)
        if first is not None and not go_on:
            raise ReplayDiverged(first)
        return Rebuilt(
            node_id,
            self.refs[node_id],
            len(path) - start - 1,
            origin,
            time.perf_counter() - started,
            first,
            skipped=skipped,
        )

    def patch_for(self, node_id: str) -> str | None:
        """The patch the record holds for the state at ``node_id``, if it holds one there."""
        node = self.tree.nodes.get(node_id)
        if node is None:
            return None
        return node.patch or None

    def from_patch(self, node_id: str) -> Rebuilt:
        """The state at ``node_id`` rebuilt from the patch the record holds there: the base,
        and the patch applied inside the sandbox (``git apply``)."""
        started = time.perf_counter()
        patch = self.patch_for(node_id)
        node = self.tree.nodes.get(node_id)
        if not patch or node is None:
            raise ReplayError(f"the run records no patch at step {node_id}, so its state cannot be rebuilt from one")
        self.box.restore(self.box.base)
        fence = "TRAJSCOPE_PATCH_" + secrets.token_hex(8)  # the patch cannot end the here-document
        result = self.box.run(
            f"GIT_CONFIG_NOSYSTEM=1 git apply --whitespace=nowarn - <<'{fence}'\n{patch.rstrip(chr(10))}\n{fence}\n",
            timeout=self.timeout,
        )
        if result.exit_code != 0:
            raise ReplayError(
                f"the patch recorded at {self._step_name(node)} does not apply to the task's base: "
                f"{result.output.strip()[:200]}"
            )
        self.refs[node_id] = self.box.snapshot()
        return Rebuilt(node_id, self.refs[node_id], 0, None, time.perf_counter() - started, from_patch=True)


def _patch_in(observation: str | None) -> str | None:
    if not observation or "diff --git" not in observation:
        return None
    return observation[observation.find("diff --git") :]
