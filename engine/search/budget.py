"""Search budgets: nodes, tokens, cost and wall time; which limit ended a search."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass


@dataclass
class Budget:
    nodes: int | None = 50
    tokens: int | None = None
    cost: float | None = None
    wall_s: float | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.monotonic()
        # What the tree held before this search spent anything (an imported run's trunk:
        # recorded, not spent), as (nodes, tokens, cost); set by ``exclude``.
        self.recorded = (0, 0, 0.0)

    def exclude(self, tree) -> None:
        """Count nothing of ``tree``'s imported steps (proposer ``import``) against the limits:
        a search from an imported run spends its budget on the nodes it adds."""
        trunk = [n for n in tree.nodes.values() if n.proposer == "import"]
        with self._lock:
            self.recorded = (len(trunk), sum(n.tokens_in + n.tokens_out for n in trunk), sum(n.cost for n in trunk))

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    @property
    def bounded(self) -> bool:
        """Whether any limit is on."""
        return any(v is not None for v in (self.nodes, self.tokens, self.cost, self.wall_s))

    def raise_by(self, nodes: int = 0, tokens: int = 0, cost: float = 0.0, wall_s: float = 0.0) -> dict:
        """Raise the limits (a limit that was off stays off); returns the new limits."""
        with self._lock:
            if nodes and self.nodes is not None:
                self.nodes += nodes
            if tokens and self.tokens is not None:
                self.tokens += tokens
            if cost and self.cost is not None:
                self.cost += cost
            if wall_s and self.wall_s is not None:
                self.wall_s += wall_s
            return self.to_json()

    def exceeded(self, tree, pending: int = 0) -> str | None:
        """The limit that is reached, or None. ``pending`` counts nodes already promised to work in flight."""
        with self._lock:
            nodes, tokens, cost = self.recorded
            if self.nodes is not None and len(tree) - nodes + pending >= self.nodes:
                return f"node budget ({self.nodes} nodes)"
            if self.tokens is not None and tree.tokens_in + tree.tokens_out - tokens >= self.tokens:
                return f"token budget ({self.tokens:,} tokens)"
            if self.cost is not None and tree.cost - cost >= self.cost:
                return f"cost budget (${self.cost:g})"
            if self.wall_s is not None and time.monotonic() - self.started >= self.wall_s:
                return f"time budget ({self.wall_s:g} s)"
            return None

    def used(self, tree) -> dict:
        spent = usage(tree, self.started)
        nodes, tokens, cost = self.recorded
        return {
            **spent,
            "nodes": spent["nodes"] - nodes,
            "tokens": spent["tokens"] - tokens,
            "cost": round(spent["cost"] - cost, 6),
        }


def usage(tree, started: float) -> dict:
    """What a search has used: nodes, tokens and cost from its tree, wall time since ``started``
    (a ``time.monotonic()``); a remote search's budget shows its worker's clock through it."""
    return {
        "nodes": len(tree),
        "tokens": tree.tokens_in + tree.tokens_out,
        "cost": round(tree.cost, 6),
        "wall_s": round(time.monotonic() - started, 2),
    }
