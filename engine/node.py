"""One node of the trajectory tree: what is known about one agent turn (the fold in
``engine.tree`` fills it from events)."""

from __future__ import annotations

from dataclasses import dataclass, field

from trajscope.engine.actions import short_action

STATUSES = ("pending", "running", "done", "failed", "pruned", "promoted", "submitted")
ROOT = "root"
"""The id of the synthetic node that stands for the task (``parent`` null in an event)."""


@dataclass(slots=True)
class Node:
    """One agent turn (or the root, which stands for the task)."""

    id: str
    parent: str | None
    depth: int
    kind: str
    action: dict | None = None
    thought: str = ""
    observation: str = ""
    exit_code: int | None = None
    status: str = "pending"
    status_by: str = ""
    status_reason: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    rationales: dict[str, str] = field(default_factory=dict)
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    duration_s: float | None = None
    state_ref: str | None = None
    diff_stat: str | None = None
    patch: str | None = None
    verified: dict | None = None
    proposer: str = "policy"
    candidates: list | None = None
    critic: dict | None = None
    summary: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        """The mean over scorers, or None before any scorer has spoken."""
        if not self.scores:
            return None
        return sum(self.scores.values()) / len(self.scores)

    @property
    def verdict(self) -> str | None:
        """resolved, unresolved, or error (the tests could not say); None before a verdict."""
        if not self.verified:
            return None
        verdict = self.verified.get("verdict")
        if verdict in ("resolved", "unresolved", "error"):
            return verdict
        if self.verified.get("error") and not self.verified.get("passed") and not self.verified.get("failed"):
            return "error"  # older logs: an error and not one test result
        return "resolved" if self.resolved else "unresolved"

    @property
    def resolved(self) -> bool | None:
        """Whether a verified submission resolved the task (None if not verified, or if
        its verification ended in an error: then nobody knows)."""
        if not self.verified:
            return None
        verdict = self.verified.get("verdict")
        if verdict == "error" or (
            verdict is None
            and self.verified.get("error")
            and not self.verified.get("passed")
            and not self.verified.get("failed")
        ):
            return None
        if "resolved" in self.verified:
            return bool(self.verified["resolved"])
        return not self.verified.get("failed") and bool(self.verified.get("passed"))

    @property
    def asked_by_person(self) -> str | None:
        """``resample`` when a person's re-sample drew this node (its hint, if any, is
        ``extra["hint"]``), ``edit`` when it is a person's edit of a sibling, else None."""
        if self.extra.get("requested_by") == "human":
            return "resample"
        if self.extra.get("edited_from") is not None and self.proposer == "human":
            return "edit"
        return None

    def short(self, width: int = 60) -> str:
        return short_action(self.action, width)
