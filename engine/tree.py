"""The trajectory tree, only ever built by folding events (docs/architecture.md section 2).

``Tree.apply`` folds one event; ``Tree.fold`` folds a whole log.  The structure is
``Tree.graph`` (children in the order they were added: the truth); ``Node`` objects hold
what is known about each turn.
"""

from __future__ import annotations

from collections.abc import Iterable

from trajscope.engine.actions import classify
from trajscope.engine.event_fields import FoldCounts, clean_event
from trajscope.engine.events import paused_gc
from trajscope.engine.node import ROOT, STATUSES, Node
from trajscope.engine.tree_queries import TreeQueries

__all__ = ["ROOT", "STATUSES", "FoldCounts", "Node", "Tree", "resolved_words"]


def resolved_words(runs: int, any_resolved: int, selected_resolved: int | None = None) -> str:
    """How every view says how many runs were resolved, in the same words: "selected resolved
    2/3 · any resolved 3/3". Selected: the patch the search selected (a batch's predictions.jsonl)
    passed the hidden tests; any: at least one of the run's submissions did. A view that does not
    know the selection (a run log does not record it) says only the second."""
    said = f"any resolved {any_resolved}/{runs}"
    return said if selected_resolved is None else f"selected resolved {selected_resolved}/{runs} · {said}"


class Edges:
    """Who is below whom: ``succ[node]`` holds its children in the order they were added.

    One dict a node rather than a networkx DiGraph: the tree is the first thing every screen
    builds, and networkx costs ~85 ms to import and three dicts a node."""

    __slots__ = ("succ",)

    def __init__(self) -> None:
        self.succ: dict[str, dict[str, None]] = {}

    def add_node(self, node: str) -> None:
        self.succ.setdefault(node, {})

    def add_edge(self, parent: str, child: str) -> None:
        self.succ.setdefault(parent, {})[child] = None
        self.succ.setdefault(child, {})


class Tree(TreeQueries):
    """The state of one run, folded from its events (what views ask of it: ``TreeQueries``)."""

    def __init__(self) -> None:
        self.graph = Edges()
        self.nodes: dict[str, Node] = {}
        self.run: str = ""
        self.task: dict = {}
        self.config: dict = {}
        self.finished: str | None = None
        self.totals: dict = {}
        self.commands: list[dict] = []  # pause, resume, raise_budget, edit, submit: who asked, when
        self.counts = FoldCounts()
        # Kept up to date by the fold so the status bar never walks the tree.
        self.max_depth = 0
        self.n_leaves = 0
        self.n_branch_points = 0
        self.status_counts: dict[str, int] = {}
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost = 0.0
        self._submitted: set[str] = set()
        self.checks: dict = {}  # the agent's own checks of the base state (engine/search/checks.py)
        self.checked: dict[str, dict] = {}  # a candidate's checks by its normalised patch's key
        self._patch_from: dict[str, str] = {}  # node -> patch_at(node) where no patch is on the node itself
        self.version = 0  # events folded so far (a view drawn at one version is still true at it)
        self._add_root()

    def _add_root(self) -> None:
        self.nodes[ROOT] = Node(id=ROOT, parent=None, depth=0, kind="task", status="done", proposer="task")
        self.graph.add_node(ROOT)

    # -- folding -------------------------------------------------------------
    @classmethod
    def fold(cls, events: Iterable[dict]) -> Tree:
        tree = cls()
        with paused_gc():
            for event in events:
                tree.apply(event)
        return tree

    def apply(self, event: dict) -> str | None:
        """Fold one event in; returns the id of the node it touched, if any."""
        handler = _HANDLERS.get(event.get("type"))
        if handler is None:
            return None
        self.version += 1
        event = clean_event(event, self.counts)
        if self._patch_from and event.get("patch") is not None:
            self._patch_from.clear()  # a patch recorded now may be the nearest one of cached nodes
        return handler(self, event)

    def _node(self, event: dict, key: str = "id") -> Node | None:
        node = self.nodes.get(str(event.get(key)))
        if node is None:
            self.counts.dangling += 1
        return node

    def _run_started(self, e: dict) -> str:
        self.run = str(e.get("run") or "")
        self.task = e.get("task") or {}
        self.config = e.get("config") or {}
        root = self.nodes[ROOT]
        root.observation = str(self.task.get("problem_statement") or "")
        root.action = {"tool": "task", "args": {}, "raw": self.title}
        return ROOT

    def _node_added(self, e: dict) -> str | None:
        node_id = str(e.get("id"))
        if node_id in self.nodes:
            self.counts.duplicate += 1
            return None
        parent_id = e.get("parent")
        parent_id = ROOT if parent_id is None else str(parent_id)
        parent = self.nodes.get(parent_id)
        if parent is None:
            self.counts.dangling += 1
            return None
        action = e.get("action")
        node = Node(
            id=node_id,
            parent=parent_id,
            depth=parent.depth + 1,
            kind=e.get("kind") or classify(action),
            action=action,
            thought=e.get("thought") or "",
            proposer=e.get("proposer") or "policy",
            candidates=e.get("candidates"),
            critic=e.get("critic"),
            tokens_in=int(e.get("tokens_in") or 0),
            tokens_out=int(e.get("tokens_out") or 0),
            cost=float(e.get("cost") or 0.0),
        )
        for key in (
            "prompt_ref",
            "teacher_action",
            "actor",
            "model",
            "expanded_from",
            "edited_from",
            "imported",
            "requested_by",
            "hint",
        ):
            if e.get(key) is not None:
                node.extra[key] = e[key]
        self.nodes[node_id] = node
        siblings = len(self.graph.succ[parent_id])
        self.graph.add_edge(parent_id, node_id)
        self.n_leaves += 1
        if siblings == 0 and parent_id != ROOT:
            self.n_leaves -= 1
        elif siblings == 1:
            self.n_branch_points += 1
        self.max_depth = max(self.max_depth, node.depth)
        self._count_status(None, node.status)
        self.tokens_in += node.tokens_in
        self.tokens_out += node.tokens_out
        self.cost += node.cost
        return node_id

    def _count_status(self, old: str | None, new: str) -> None:
        counts = self.status_counts
        if old is not None:
            counts[old] -= 1
        counts[new] = counts.get(new, 0) + 1

    def _set_status(self, node: Node, status: str) -> None:
        if node.id != ROOT and node.status != status:
            self._count_status(node.status, status)
        node.status = status

    def _node_started(self, e: dict) -> str | None:
        node = self._node(e)
        if node is None:
            return None
        self._set_status(node, "running")
        return node.id

    def _node_executed(self, e: dict) -> str | None:
        node = self._node(e)
        if node is None:
            return None
        node.observation = e.get("observation") or ""
        node.exit_code = e.get("exit_code")
        node.duration_s = e.get("duration_s")
        node.state_ref = e.get("state_ref")
        node.diff_stat = e.get("diff_stat")
        if e.get("patch") is not None:
            node.patch = e["patch"]
        if node.status in ("pending", "running"):
            self._set_status(node, "done")
        return node.id

    def _node_scored(self, e: dict) -> str | None:
        node = self._node(e)
        if node is None:
            return None
        scorer = str(e.get("scorer") or "score")
        try:
            node.scores[scorer] = min(1.0, max(0.0, float(e.get("score"))))
        except (TypeError, ValueError):
            self.counts.dangling += 1
            return None
        if e.get("rationale"):
            node.rationales[scorer] = e["rationale"]
        return node.id

    def _node_status(self, e: dict) -> str | None:
        node = self._node(e)
        status = e.get("status")
        if node is None or status not in STATUSES:
            return None
        self._set_status(node, status)
        node.status_by = e.get("by") or ""
        node.status_reason = e.get("reason") or ""
        return node.id

    def _branch_requested(self, e: dict) -> str | None:
        node = self._node(e, "parent")
        if node is None:
            return None
        node.extra.setdefault("branch_requests", []).append(
            {k: e.get(k) for k in ("n", "hint", "by", "result") if k != "result" or e.get(k)}
        )
        return node.id

    def _summary_written(self, e: dict) -> str | None:
        node = self._node(e)
        if node is None:
            return None
        node.summary = e.get("summary")
        return node.id

    def _submitted(self, e: dict) -> str | None:
        node = self._node(e)
        if node is None:
            return None
        node.patch = e.get("patch")
        node.verified = e.get("verified")
        self._set_status(node, "submitted")
        node.status_by, node.status_reason = e.get("by") or "", ""
        self._submitted.add(node.id)
        return node.id

    def _checks_prepared(self, e: dict) -> str | None:
        tests = [t for t in e.get("tests") or [] if isinstance(t, dict)]  # a hand-made log may hold anything
        self.checks = {"visible": e.get("visible") or {}, "tests": tests, "duration_s": e.get("duration_s")}
        self.tokens_in += int(e.get("tokens_in") or 0)  # the model's tests count in the token budget
        self.tokens_out += int(e.get("tokens_out") or 0)
        return None

    def _candidate_checked(self, e: dict) -> str | None:
        node = self._node(e)
        if node is None:
            return None
        facts = {k: e[k] for k in ("key", "cached", "repro", "regressions", "n_regressions") if k in e}
        facts["commands"] = [c for c in e.get("commands") or [] if isinstance(c, dict)]
        node.extra["checks"] = facts
        if not e.get("cached") and isinstance(e.get("key"), str):
            self.checked[e["key"]] = facts
        return node.id

    def _command(self, e: dict) -> str | None:
        self.commands.append({k: v for k, v in e.items() if k not in ("type", "run")})
        if e.get("name") == "raise_budget" and isinstance(e.get("budget"), dict):
            self.config = {**self.config, "budget": e["budget"]}
        return None

    def _run_finished(self, e: dict) -> str | None:
        self.finished = str(e.get("reason") or "finished")
        if isinstance(e.get("totals"), dict):
            self.totals = e["totals"]
        return None

    # -- queries --------------------------------------------------------------
    @property
    def title(self) -> str:
        task = self.task
        return str(task.get("instance_id") or task.get("title") or self.run or "run")

    def __len__(self) -> int:
        """Number of turns (the root is not one)."""
        return len(self.nodes) - 1

    def children(self, node_id: str) -> list[str]:
        return list(self.graph.succ[node_id])

    def n_children(self, node_id: str) -> int:
        return len(self.graph.succ[node_id])


_HANDLERS = {
    "run_started": Tree._run_started,
    "node_added": Tree._node_added,
    "node_started": Tree._node_started,
    "node_executed": Tree._node_executed,
    "node_scored": Tree._node_scored,
    "node_status": Tree._node_status,
    "branch_requested": Tree._branch_requested,
    "summary_written": Tree._summary_written,
    "submitted": Tree._submitted,
    "checks_prepared": Tree._checks_prepared,
    "candidate_checked": Tree._candidate_checked,
    "run_finished": Tree._run_finished,
    "command": Tree._command,
}
