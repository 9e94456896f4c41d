"""Scorers by name (docs/architecture.md section 6): ``SCORERS`` is the table. Each is imported
only when asked for, so ``prm.base`` (the protocol every scorer implements) depends on none of
them; a name the table lacks is tried as a dotted path (``mymodule:MyScorer``)."""

from __future__ import annotations

from trajscope.engine.prm.base import Scorer, ScorerError
from trajscope.engine.registry import Registry

# name -> class; ``prefix:<what>``: what follows the prefix is the class's first argument
SCORERS = Registry(
    "scorer",
    {
        "builtin": "trajscope.engine.prm.model:BuiltinScorer",
        "heuristic": "trajscope.engine.prm.heuristic:HeuristicScorer",
        "rubric:<model>": "trajscope.engine.prm.rubric:RubricScorer",
        "hf:<dir>": "trajscope.engine.prm.hf:HFScorer",
        "vllm:<url>": "trajscope.engine.prm.vllm:VLLMScorer",
    },
    ScorerError,
)


def get_scorer(name: str, device: str | None = None) -> Scorer:
    """The scorer called ``name``; ScorerError for a name no scorer has. ``device`` goes to the
    scorers that take one (a ``device`` argument)."""
    found = SCORERS.resolve(name)
    scorer = SCORERS.make(found, *([] if found.arg is None else [found.arg]), device=device)
    if not callable(getattr(scorer, "score", None)) or not isinstance(getattr(scorer, "name", None), str):
        raise ScorerError(f"{name} is not a scorer: a scorer has a name and score(steps)")
    return scorer
