"""Builds the event list of an imported run, one turn at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from trajscope.engine.events import make_event
from trajscope.engine.jsonio import shallow


@dataclass(frozen=True)
class Importer:
    """One format trajscope imports: each importer module holds one (``IMPORTERS`` in
    engine/formats/__init__.py names it). ``needs`` says what it needs to find a step,
    shown when a file of its shape holds none."""

    label: str  # the format's name for people, e.g. "SWE-agent"
    needs: str
    looks_like: Callable[[object], bool]
    convert: Callable[[object, str], list[dict]]


def extract_patch(text: str | None) -> str | None:
    """The unified diff inside an observation (what agents print on submit)."""
    if not text:
        return None
    start = text.find("diff --git")
    if start < 0:
        return None
    return text[start:].replace("\r\n", "\n").strip("\n") + "\n"


class RunBuilder:
    """Accumulates the events of one imported run with sequential node ids.

    Imported timestamps are synthetic (one second a turn from ``t0``), so a replay
    of an imported file still has a sensible pace.
    """

    def __init__(self, run: str, task: dict, source: str, t0: float = 0.0) -> None:
        self.run = run
        self.events: list[dict] = []
        self._next = 1
        self._ts = t0
        self._emit("run_started", task=task, config={"source_format": source})

    def _emit(self, type_: str, **fields) -> dict:
        # Values of the source file go in as they are, but never nested past MAX_DEPTH.
        fields = {k: shallow(v) if isinstance(v, (dict, list)) else v for k, v in fields.items()}
        event = make_event(type_, self.run, ts=round(self._ts, 3), **fields)
        self.events.append(event)
        return event

    def turn(
        self,
        parent: str | None,
        action: dict,
        *,
        thought: str = "",
        observation: str | None = None,
        exit_code: int | None = None,
        duration_s: float | None = None,
        tokens_in: int = 0,
        tokens_out: int = 0,
        cost: float = 0.0,
        candidates: list | None = None,
        critic: dict | None = None,
        kind: str | None = None,
    ) -> str:
        """Add one executed turn; returns its id."""
        node_id = str(self._next)
        self._next += 1
        self._ts += 1.0
        fields = dict(
            id=node_id,
            parent=parent,
            action=action,
            thought=thought,
            proposer="import",
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost=cost,
        )
        if kind:
            fields["kind"] = kind
        if candidates:
            fields["candidates"] = candidates
        if critic:
            fields["critic"] = critic
        self._emit("node_added", **fields)
        if observation is not None:
            self._emit(
                "node_executed",
                id=node_id,
                observation=observation,
                exit_code=exit_code,
                duration_s=duration_s,
                state_ref=None,
                diff_stat=None,
            )
        return node_id

    def submit(self, node_id: str, patch: str | None, verified: dict | None = None) -> None:
        self._emit("submitted", id=node_id, patch=patch or "", verified=verified)

    def status(self, node_id: str, status: str, reason: str) -> None:
        self._emit("node_status", id=node_id, status=status, by="engine", reason=reason)

    def finish(self, reason: str | None, totals: dict | None = None) -> list[dict]:
        fields = {"reason": reason or "finished"}
        if totals:
            fields["totals"] = totals
        self._emit("run_finished", **fields)
        return self.events
