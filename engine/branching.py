"""A search that starts at a step of an imported run (docs/architecture.md section 5,
"From an imported run").

An imported run (any format trajscope reads, a run log included) has no sandbox states.
``prepare`` rebuilds the state at the chosen step by replay (engine/replay.py) in the
sandbox the search will use, before anything is written, so a step that cannot be
replayed or a divergence from the record is one sentence and the person decides. The
Session then ``attach``es it: the new run log holds the imported run's steps as the trunk
(``proposer: import``, an ``imported`` field naming the file, its format and the step's
own id there, observations as recorded, cut as live output is), then one ``command`` event ``branch_from_import``
saying what was rebuilt and how; the search's rollouts start at that step, so the policy
sees the imported history as its context, and DARS, sampling and a person's re-samples
work below it as below any node. States along the trunk are the replay's snapshots, so a
second branch from any of its steps restores instead of replaying.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from trajscope.engine.errors import UserCausedError
from trajscope.engine.formats import load
from trajscope.engine.formats.transcripts import Transcript, cap_recorded, transcript
from trajscope.engine.replay import Rebuilt, Replayer, ReplayError
from trajscope.engine.search.strategy import Job
from trajscope.engine.tree import ROOT, Tree

# What the trunk copies from the imported run: its steps and what was recorded of them.
_TRUNK_EVENTS = ("node_added", "node_started", "node_executed", "node_scored", "node_status", "submitted")


@dataclass
class ImportedPrefix:
    """An imported run, the step a search starts from, and its state in ``box``."""

    source: Path
    format: str
    events: list[dict]
    tree: Tree
    at: str
    box: object
    replayer: Replayer
    rebuilt: Rebuilt
    start_rollouts: bool = True  # False: only a person's own steps run below the trunk
    transcript: Transcript | None = None  # the run's own conversation, where its format keeps one
    _session: object = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def describe(self) -> str:
        """One sentence: how the state at the step was rebuilt."""
        r = self.rebuilt
        if r.from_patch:
            how = "from the patch recorded there"
        elif r.replayed == 0:
            how = "restored from a snapshot taken on the way"
        else:
            how = f"by replaying {r.replayed} step{'s' * (r.replayed != 1)}"
        words = f"state at step {self.at} of {self.source.name} rebuilt {how} in {r.seconds:.2f} s"
        if r.divergence is not None:
            words += f"; {r.divergence.sentence} (gone on despite it)"
        return words

    def attach(self, session) -> None:
        """Write the trunk into ``session``'s fresh log and start its rollouts at the step."""
        marker = {"source": str(self.source), "format": self.format}
        path = {n.id for n in self.tree.path(self.at)}
        for event in self.events:
            if event.get("type") not in _TRUNK_EVENTS or event.get("id") not in self.tree.nodes:
                continue
            if event["type"] == "node_status" and event["id"] in path:
                continue  # a status the record gave the path (failed, pruned) would stop the branch below it
            fields = {k: v for k, v in event.items() if k not in ("type", "ts", "run")}
            if event["type"] == "node_executed":
                fields["state_ref"] = None  # a state of the recording process's store, not of this one
                fields["observation"] = cap_recorded(fields.get("observation"))  # as live output is
            if event["type"] == "node_added":
                fields["imported"] = {**marker, "id": event["id"]}
                fields["proposer"] = "import"
            session.emit(event["type"], **fields)
        self._session = session
        session.refs.update({n: ref for n, ref in self.replayer.refs.items() if n != ROOT})
        session.box_at[self.box] = self.at
        session.origin = self.at
        session.rollouts = 0 if self.start_rollouts else session.strategy.width
        r = self.rebuilt
        session.emit(
            "command",
            name="branch_from_import",
            by="engine",
            source=str(self.source),
            format=self.format,
            at=self.at,
            replayed=r.replayed,
            from_patch=r.from_patch,
            seconds=round(r.seconds, 3),
            divergence=r.divergence.sentence if r.divergence else None,
            divergence_at=r.divergence.node if r.divergence else None,  # shown on that node (divergence_at)
            text=self.describe(),
        )
        # The run's own submissions are candidates like any other: verified and checked here, as a
        # resumed search's unverified ones are (a blank verdict would read as "not resolved").
        for node in list(session.tree.nodes.values()):
            if "imported" in node.extra and node.status == "submitted" and node.verified is None:
                session.push(Job("submit", node.id, priority=0, by="resume"))

    def rebuild(self, box, node_id: str) -> str:
        """The state at an imported ``node_id`` in ``box`` (a fork sharing the store): the ref.
        A divergence met on the way (below the step the person chose) goes into the log;
        ReplayError when a step cannot be replayed."""
        with self._lock:  # workers share the replayer's snapshots and cursors
            known = set(self.replayer.divergences)
            try:
                rebuilt = self.replayer.rebuild(node_id, go_on=True, box=box)
            except ReplayError as exc:
                self._refuse(node_id, str(exc))
                raise
            new = [d for n, d in self.replayer.divergences.items() if n not in known]
        if new and self._session is not None:
            self._session.emit("command", name="replay_divergence", by="engine", node=new[0].node, text=new[0].sentence)
        return rebuilt.ref

    def transcript_for(self, path: list) -> tuple[list[dict], int] | None:
        """The recorded conversation for a ``path`` (its nodes, task first) that begins with the
        imported run's own steps in order: its messages and how many steps they hold; None
        when the format keeps none or the path leaves the recorded run at once."""
        if self.transcript is None:
            return None
        steps = 0
        for node in path:
            if node.id == ROOT:
                continue
            if (node.extra.get("imported") or {}).get("id") != str(steps + 1):
                break
            steps += 1
        return self.transcript.upto(steps) if steps else None

    def _refuse(self, node_id: str, why: str) -> None:
        """The steps a job added below ``node_id`` before its state proved impossible: failed, and why."""
        session = self._session
        if session is None:
            return
        session.emit("command", name="replay_refused", by="engine", node=node_id, text=why)
        for child in session.tree.children(node_id):
            node = session.tree.nodes[child]
            if node.proposer != "import" and node.status == "pending" and node.exit_code is None:
                session.emit("node_status", id=child, status="failed", by="engine", reason=why)

    def covers(self, node_id: str) -> bool:
        return node_id in self.tree.nodes and node_id != ROOT


class OtherTask(UserCausedError):
    """The run names an instance and the task is another one; the message is one sentence."""


def named_instance(events: list[dict]) -> str | None:
    """The instance the run's own record names: not the file's name an importer fell back to,
    nor an id trajscope made from its content (the rule ``formats.collection`` applies)."""
    started = next((e for e in events if e.get("type") == "run_started"), None) or {}
    task = started.get("task") if isinstance(started.get("task"), dict) else {}
    own = str(task.get("instance_id") or "")
    if not own or own == started.get("run") or task.get("instance_from") == "content":
        return None
    return own


def check_task(events: list[dict], task, source: Path) -> None:
    """OtherTask when the run names an instance other than ``task``'s: its steps would be
    replayed onto a repository they were never run on."""
    own = named_instance(events)
    if own is not None and own != task.instance_id:
        raise OtherTask(f"{source.name} is a run of {own}, not of {task.instance_id}; --any-task branches anyway")


def divergence_at(tree: Tree, node_id: str) -> str | None:
    """The sentence saying how the replay of an imported ``node_id`` differed from its record,
    when a search from the run recorded one there (``branch_from_import``, ``replay_divergence``)."""
    for c in tree.commands:
        if c.get("name") == "branch_from_import" and c.get("divergence_at") == node_id:
            return c.get("divergence")
        if c.get("name") == "replay_divergence" and c.get("node") == node_id:
            return c.get("text")
    return None


def resolve_step(tree: Tree, at: str, source: Path) -> str:
    """The node id ``at`` names: an id of the file, or a number counted along the imported run's
    first path (step 1 is its first action)."""
    at = str(at).strip()
    if at in tree.nodes and at != ROOT:
        return at
    if at.isdigit():
        node, depth = ROOT, 0
        while depth < int(at):
            children = tree.children(node)
            if not children:
                break
            node, depth = children[0], depth + 1
        if depth == int(at) and depth > 0:
            return node
    raise ReplayError(f"{source.name} has no step {at} (its steps are numbered 1 to {tree.max_depth} along its path)")


def prepare(
    source: str | Path,
    at: str,
    task,
    sandbox: str = "local",
    *,
    go_on: bool = False,
    from_patch: bool = False,
    any_task: bool = False,
    timeout: float = 120.0,
    **sandbox_options,
) -> ImportedPrefix:
    """Read ``source``, open ``task``'s sandbox and rebuild the state at step ``at`` in it.
    OtherTask when the run names another instance than ``task``'s (unless ``any_task``);
    ReplayError (one sentence naming the step) when it cannot be, or when the replay diverges
    from the record and ``go_on`` is not given; the sandbox is closed then."""
    source = Path(source)
    loaded = load(source)
    if not any_task:
        check_task(loaded.events, task, source)
    tree = Tree.fold(loaded.events)
    node = resolve_step(tree, at, source)
    recorded = _transcript(source, loaded.format, tree)
    box = task.open_sandbox(sandbox, **sandbox_options)
    try:
        replayer = Replayer(tree, box, timeout=timeout)
        rebuilt = replayer.from_patch(node) if from_patch else replayer.rebuild(node, go_on=go_on)
    except BaseException:
        box.close()
        raise
    return ImportedPrefix(source, loaded.format, loaded.events, tree, node, box, replayer, rebuilt, transcript=recorded)


def _transcript(source: Path, fmt: str, tree: Tree) -> Transcript | None:
    """The run's own conversation, when its format keeps one and it lines up with the steps
    along the run's first path (sequential ids, as those formats' importers give them)."""
    if fmt not in ("mini-swe-agent", "swe-agent"):
        return None
    from trajscope.engine.formats import read_input
    from trajscope.engine.jsonio import loads

    steps, node = 0, ROOT
    while tree.children(node):
        node, steps = tree.children(node)[0], steps + 1
    return transcript(loads(read_input(source)), fmt, steps)
