"""The live search the app shows and steers, as one interface (docs/architecture.md section 7).

A search in this process (``Session``) and one running elsewhere (a batch's worker, a served
search: ``RemoteSession`` in the UI) are shown by the same live screen and steered by the same
keys. What that screen may read and call is declared here, so that each side implements it
in full instead of imitating the other attribute by attribute; a test holds both to it.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from trajscope.engine.search.commands import PERSON_COMMANDS  # noqa: F401 - the names, re-exported
from trajscope.engine.tree import Tree


@runtime_checkable
class LiveBudget(Protocol):
    """The limits a person sees and raises (None: that limit is off), on the search's own clock:
    ``used(tree)["wall_s"]`` is the time the search has run, wherever it runs."""

    nodes: int | None
    tokens: int | None
    cost: float | None
    wall_s: float | None

    def used(self, tree: Tree) -> dict: ...


@runtime_checkable
class PersonCommands(Protocol):
    """What a person may do to a live search (engine/search/commands.py checks the arguments);
    each is callable from any thread and ends as an event in the run log."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def prune(self, node_id: str, reason: str = "pruned by hand") -> None: ...

    def unprune(self, node_id: str) -> None: ...

    def promote(self, node_id: str) -> None: ...

    def resample(self, node_id: str, n: int = 1, hint: str | None = None) -> None: ...

    def edit(self, node_id: str, action: dict) -> None: ...

    def submit(self, node_id: str) -> None: ...

    def raise_budget(self, nodes: int = 0, tokens: int = 0, cost: float = 0.0, wall_s: float = 0.0) -> dict | None: ...


# the names of PersonCommands (all a person may call on a search, here or forwarded) are
# the one table read off the engine's Commands class; a test holds this Protocol to it


class Named(Protocol):
    """A scorer as the live screen names it (``device``, where it has one, is optional)."""

    name: str


@runtime_checkable
class LiveSearch(Protocol):
    """A search the app shows and steers: its tree and log, its state, its budget and the
    person's commands. Events tell what happened to the tree; this tells what the search is
    doing now."""

    @property
    def tree(self) -> Tree:
        """The tree folded from the search's log so far."""

    @property
    def log_path(self) -> Path:
        """The run log the tree is folded from (exports go next to it)."""

    @property
    def strategy_name(self) -> str:
        """The strategy the search was started with, as ``STRATEGIES`` names it."""

    @property
    def phase(self) -> str:
        """What the strategy does now (its own name, or DARS past its limits: relaxed rounds...)."""

    @property
    def paused(self) -> bool:
        """Paused by a person: running steps finish, no new one starts."""

    @property
    def finished(self) -> str | None:
        """Why the search has nothing left to do, or None while it has."""

    @property
    def busy(self) -> int:
        """Workers running a job now."""

    @property
    def workers(self) -> int:
        """Workers the search runs (each with its own sandbox)."""

    @property
    def budget(self) -> LiveBudget:
        """The budget, one object whose clock is the search's."""

    @property
    def scorers(self) -> Sequence[Named]:
        """The scorers of the search's steps, in order."""

    @property
    def sandbox_kind(self) -> str:
        """Where the agent's commands run: local, docker, or none (unconfined)."""

    @property
    def verifying(self) -> MutableMapping[str, str]:
        """Node -> the phase its verification is in, while it runs (not in the log)."""

    @property
    def commands(self) -> PersonCommands:
        """A person's commands on this search."""

    def subscribe(self, listener: Callable[[dict], None]) -> list[dict]:
        """The events so far; ``listener`` then hears every later one (none missed, none twice)."""

    def unsubscribe(self, listener: Callable[[dict], None]) -> None:
        """``listener`` hears nothing more."""
