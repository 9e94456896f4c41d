"""The simplest strategies: one rollout from the task (``linear``), or several (``sample``).

With ``prune`` (the ``prune`` strategy) every step samples m candidates and the PRM
keeps b; each kept one goes on in its own rollout.
"""

from __future__ import annotations

from trajscope.engine.search.recorder import path_outcome
from trajscope.engine.search.strategy import Strategy
from trajscope.engine.tree import Tree


class Linear(Strategy):
    name = "linear"

    def end_reason(self, tree: Tree) -> str | None:
        """How its one path ended: submitted, max_steps, policy_error or sandbox_error."""
        outcome = None if self.prune else path_outcome(tree, self.config.max_depth)
        return outcome.reason if outcome is not None and outcome.reason != "stopped" else None


class Sample(Strategy):
    """``samples`` independent rollouts from the task."""

    name = "sample"

    @property
    def width(self) -> int:
        return self.config.samples
