"""Scorers by name (docs/architecture.md section 6): ``builtin``, ``heuristic``,
``rubric:<model>``, ``hf:<dir>`` and ``vllm:<url>``. Each is imported only when asked for, so ``prm.base``
(the protocol every scorer implements) depends on none of them."""

from __future__ import annotations

import importlib

from trajscope.engine.prm.base import Scorer, ScorerError

# name (or prefix, with a colon) -> (module, class, what follows the colon is passed as)
SCORERS = {
    "builtin": ("trajscope.engine.prm.model", "BuiltinScorer", None),
    "heuristic": ("trajscope.engine.prm.heuristic", "HeuristicScorer", None),
    "rubric:": ("trajscope.engine.prm.rubric", "RubricScorer", "model"),
    "hf:": ("trajscope.engine.prm.hf", "HFScorer", "path"),
    "vllm:": ("trajscope.engine.prm.vllm", "VLLMScorer", "path"),
}
_TAKES_DEVICE = {"BuiltinScorer", "HFScorer"}


def get_scorer(name: str, device: str | None = None) -> Scorer:
    """The scorer called ``name``; ScorerError for a name no scorer has."""
    for key, (module, cls, arg) in SCORERS.items():
        if key.endswith(":") and name.startswith(key) and len(name) > len(key):
            value = name[len(key):]
        elif name == key:
            value = None
        else:
            continue
        scorer_class = getattr(importlib.import_module(module), cls)
        args = [value] if arg else []
        kwargs = {"device": device} if cls in _TAKES_DEVICE else {}
        return scorer_class(*args, **kwargs)
    raise ScorerError(f"unknown scorer {name!r}: use builtin, heuristic, rubric:<model>, hf:<dir> or vllm:<url>")
