"""Search strategies over agent trajectories (docs/architecture.md section 5).

``STRATEGIES`` is the table of strategies, in the order the command line lists them:
name -> (module, class, options). A strategy is a ``engine.search.strategy.Strategy``;
``prune`` is the step option of PRM pruning (m candidates a step, the PRM keeps b).
"""

from __future__ import annotations

from importlib import import_module

STRATEGIES = {
    "linear": ("trajscope.engine.search.linear", "Linear", {}),
    "sample": ("trajscope.engine.search.linear", "Sample", {}),
    "dars": ("trajscope.engine.search.dars", "Dars", {}),
    "prune": ("trajscope.engine.search.linear", "Linear", {"prune": True}),
    "dars+prune": ("trajscope.engine.search.dars", "Dars", {"prune": True}),
}


def make_strategy(config, tree):
    """The strategy ``config.strategy`` names, wrapped in PDR rounds when ``config.refine_rounds``."""
    module, name, options = STRATEGIES[config.strategy]
    strategy = getattr(import_module(module), name)(config, tree, **options)
    if config.refine_rounds:
        from trajscope.engine.search.refine import Refine

        strategy = Refine(strategy)
    return strategy
