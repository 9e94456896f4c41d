"""Messages that workers post to the UI thread."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from trajscope.engine.events import ReadCounts
from trajscope.engine.tree import Tree


@dataclass
class TreeLoaded(Message):
    """A loader worker folded a file into a tree."""

    tree: Tree
    counts: ReadCounts
    source_format: str


@dataclass
class LoadFailed(Message):
    """A loader worker could not read its file; ``reason`` is one sentence."""

    reason: str


@dataclass
class SearchFinished(Message):
    """A search worker found the nodes matching ``query``."""

    query: str
    hits: list[str]


class FlagsBuilt(Message):
    """The flag checkpoints of the tree shown are all made (the detail can show a long path's flags)."""
