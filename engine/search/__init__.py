"""Search strategies over agent trajectories (docs/architecture.md section 5).

``STRATEGIES`` is the table of strategies, in the order the command line lists them:
name -> (module, class, options). A strategy is a ``engine.search.strategy.Strategy``;
``prune`` is the step option of PRM pruning (m candidates a step, the PRM keeps b).
"""

from __future__ import annotations

from importlib import import_module

STRATEGIES = {
    "linear": ("engine.search.linear", "Linear", {}),
    "sample": ("engine.search.linear", "Sample", {}),
    "dars": ("engine.search.dars", "Dars", {}),
    "prune": ("engine.search.linear", "Linear", {"prune": True}),
    "dars+prune": ("engine.search.dars", "Dars", {"prune": True}),
}


def make_strategy(config, tree):
    """The strategy ``config.strategy`` names, wrapped in PDR rounds when ``config.refine_rounds``."""
    module, name, options = STRATEGIES[config.strategy]
    strategy = getattr(import_module(module), name)(config, tree, **options)
    if config.refine_rounds:
        from engine.search.refine import Refine

        strategy = Refine(strategy)
    return strategy
