"""SearchConfig: how a search searches (strategy, its parameters, the agent's checks, the oracle),
apart from what it runs on (the Session). engine/spec.py maps every field to an option and a
config file key; the field's doc is its --help line."""

from __future__ import annotations

from dataclasses import dataclass, field

from trajscope.engine.search import dars, strategy_class


@dataclass
class SearchConfig:
    # each field's doc is its --help line and says what a config file's key sets (tui/cli/specs.py)
    strategy: str = field(default="dars", metadata={"doc": "the search strategy: a name from the strategy table"})
    max_depth: int = field(default=30, metadata={"doc": "steps a rollout may take"})
    timeout: float = field(default=120.0, metadata={"doc": "seconds one command may run"})
    samples: int = field(default=4, metadata={"doc": "sample: independent rollouts"})
    k: int = field(default=3, metadata={"doc": "dars: candidates per expansion"})
    expand_temperature: float = field(
        default=0.8,
        metadata={
            "doc": "dars and prune: the sampling temperature of expansions and of prune's candidate steps "
            "; a rollout's ordinary steps use temperature"
        },
    )
    prune_m: int = field(default=3, metadata={"doc": "prune: candidates sampled per step"})
    prune_b: int = field(default=1, metadata={"doc": "prune: candidates kept per step"})
    critic: str = field(default="prm", metadata={"doc": "dars: who picks among candidates (prm, llm or first)"})
    refine_rounds: int = field(
        default=0, metadata={"doc": "PDR: more rounds of rollouts, each conditioned on distilled summaries of the last"}
    )
    limits: dict = field(
        default_factory=lambda: dict(dars.DEFAULT_LIMITS),
        metadata={
            "doc": "dars: how often each kind of step may branch along one path (kind -> count); "
            "a config file's table changes the kinds it names"
        },
    )
    after: dict = field(
        default_factory=lambda: {k: list(v) for k, v in dars.DEFAULT_AFTER.items()},
        metadata={
            "doc": "dars: inside a branch that began at a kind, the kinds that may branch again (kind -> list); "
            "a config file's table changes the kinds it names"
        },
    )
    checks: bool = field(
        default=False,
        metadata={
            "doc": "run the agent's own checks on every distinct submitted patch (visible tests, reproduction "
            "tests the model writes, its own reproduction commands): what select tests and DARS's stopping "
            "rule read; on with select tests"
        },
    )
    repro_tests: int = field(default=3, metadata={"doc": "checks: reproduction tests asked of the model"})
    oracle: bool = field(
        default=False,
        metadata={
            "doc": "let the hidden tests' verdicts steer the search (DARS's resample prompt and when it stops, "
            "which patches selection keeps): an upper bound or training data, never a fair resolve rate; "
            "every summary says so"
        },
    )

    def __post_init__(self) -> None:
        strategy_class(self.strategy)  # ValueError now, not in a worker, for a name that is no strategy

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}
