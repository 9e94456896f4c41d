"""What a person does while a search runs (docs/architecture.md section 7).

``Commands`` is held by a Session as ``session.commands``. Each command may come
from any thread at any time and is recorded as an event; work it asks for goes to
the front of the Session's queue, and runs even when paused or past the budget.

The commands check their own arguments (the rules below are the only ones: the
dialogs, a batch's forwarded controls and a served search's control socket all
end here), because a value that reached the queue unchecked would fail later in
a worker thread, where it ends the search instead of answering the person.

``PERSON_COMMANDS`` is the table of their names, read off the class: a batch worker or
a served search calls nothing else by name (and never imports anything by name: unlike
the plug-in tables, a name from a socket is never tried as a dotted path).
"""

from __future__ import annotations

import math

from trajscope.engine.actions import parse_tool_call
from trajscope.engine.search.strategy import Job
from trajscope.engine.tree import ROOT

MAX_SAMPLES = 8  # candidates one re-sample draws
MAX_HINT = 2000  # characters of a hint to the model
MAX_REASON = 500  # characters of a prune's reason
# the most one raise_budget may add to each limit (a day of wall time, ...): finite, never negative
MAX_BUDGET_STEP = {"nodes": 100_000, "tokens": 1_000_000_000, "cost": 10_000.0, "wall_s": 86_400.0}


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value, what: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text")
    value = value.strip()
    if len(value) > limit:
        raise ValueError(f"{what} is {len(value):,} characters; at most {limit:,}")
    return value or None


def samples(n) -> int:
    """How many candidates a re-sample draws: a whole number from 1 to MAX_SAMPLES."""
    if not _integer(n) or not 1 <= n <= MAX_SAMPLES:
        raise ValueError(f"how many: a number from 1 to {MAX_SAMPLES}")
    return n


def budget_step(name: str, value) -> int | float:
    """One limit's increment: a number from 0 to its MAX_BUDGET_STEP (whole for nodes and tokens)."""
    cap = MAX_BUDGET_STEP[name]
    whole = isinstance(cap, int)
    # an int is compared as it is (exactly, whatever its size: math.isfinite(10**400) raises
    # OverflowError); only a float can be infinite or NaN
    if _integer(value):
        ok = 0 <= value <= cap
    else:
        ok = not whole and isinstance(value, float) and math.isfinite(value) and 0 <= value <= cap
    if not ok:
        most = f"{cap:,}" if whole else f"{cap:,g}"
        raise ValueError(f"raise_budget: {name} must be a{' whole' if whole else ''} number from 0 to {most}")
    return value


class Commands:
    """A person's commands on one search; they use only the Session's public API."""

    def __init__(self, session) -> None:
        self.session = session

    def _check(self, node_id: str) -> None:
        if not isinstance(node_id, str):
            raise ValueError("a node id is text, like 'n3'")
        if node_id not in self.session.tree.nodes:
            raise KeyError(f"no node {node_id!r}")

    def _ask(self, kind: str, node_id: str, **fields) -> None:
        self.session.push(Job(kind, node_id, priority=0, **fields))

    def pause(self) -> None:
        self.session.hold(True)
        self.session.emit("command", name="pause", by="human")

    def resume(self) -> None:
        self.session.emit("command", name="resume", by="human")
        self.session.hold(False)

    def prune(self, node_id: str, reason: str = "pruned by hand") -> None:
        self._check(node_id)
        reason = _text(reason, "the reason", MAX_REASON) or "pruned by hand"
        self.session.emit("node_status", id=node_id, status="pruned", by="human", reason=reason)

    def unprune(self, node_id: str) -> None:
        """Undo a prune: the node is live again, and a rollout goes on from it if it was cut short."""
        self._check(node_id)
        tree = self.session.tree
        node = tree.nodes[node_id]
        if node.status != "pruned":
            raise KeyError(f"node {node_id!r} is not pruned")
        self.session.emit("node_status", id=node_id, status="done", by="human", reason="prune undone")
        cut_short = not tree.children(node_id) and node.kind != "submit" and node.depth < self.session.config.max_depth
        if cut_short and not any(n.status in ("pruned", "failed") for n in tree.path(node_id)):
            self._ask("rollout", node_id)

    def promote(self, node_id: str) -> None:
        self._check(node_id)
        self.session.emit("node_status", id=node_id, status="promoted", by="human", reason="promoted by hand")

    def resample(self, node_id: str, n: int = 1, hint: str | None = None) -> None:
        self._check(node_id)
        n, hint = samples(n), _text(hint, "the hint", MAX_HINT)
        self.session.emit("branch_requested", parent=node_id, n=n, hint=hint, by="human")
        self._ask("expand", node_id, n=n, hint=hint, by="human")

    def edit(self, node_id: str, action: dict) -> None:
        self._check(node_id)
        if node_id == ROOT:
            raise KeyError("the task itself has no action to edit")
        if not isinstance(action, dict) or not isinstance(action.get("args") or {}, dict):
            raise ValueError("the action is an object with a tool and its args")
        action = parse_tool_call(str(action.get("tool") or ""), action.get("args")).to_dict()
        self.session.emit("command", name="edit", by="human", node=node_id, action=action)
        self._ask("edit", node_id, action=action, by="human")

    def submit(self, node_id: str) -> None:
        self._check(node_id)
        self.session.emit("command", name="submit", by="human", node=node_id)
        self.session.verifying[node_id] = "queued"
        self._ask("submit", node_id, by="human")

    def raise_budget(self, nodes: int = 0, tokens: int = 0, cost: float = 0.0, wall_s: float = 0.0) -> dict:
        deltas = {
            name: budget_step(name, value)
            for name, value in (("nodes", nodes), ("tokens", tokens), ("cost", cost), ("wall_s", wall_s))
        }
        limits = self.session.budget.raise_by(**deltas)
        self.session.emit("command", name="raise_budget", by="human", budget=limits)
        return limits


PERSON_COMMANDS = frozenset(
    name for name, value in vars(Commands).items() if callable(value) and not name.startswith("_")
)
"""What a person may do to a search, by name: the public methods of ``Commands``."""
