"""Search strategies over agent trajectories (docs/architecture.md section 5).

``STRATEGIES`` is the table of strategies, in the order the command line lists them:
name -> class, or (class, options). A strategy is a ``engine.search.strategy.Strategy``;
``prune`` is the step option of PRM pruning (m candidates a step, the PRM keeps b). A name
the table lacks is tried as a dotted path (``mymodule:MyStrategy``).
"""

from __future__ import annotations

from trajscope.engine.registry import Registry

STRATEGIES = Registry(
    "strategy",
    {
        "linear": "trajscope.engine.search.linear:Linear",
        "sample": "trajscope.engine.search.linear:Sample",
        "dars": "trajscope.engine.search.dars:Dars",
        "prune": ("trajscope.engine.search.linear:Linear", {"prune": True}),
        "dars+prune": ("trajscope.engine.search.dars:Dars", {"prune": True}),
    },
)


def strategy_class(name: str, paths: bool = True):
    """The Strategy subclass ``name`` stands for and its options; ValueError for a name that is
    neither in the table nor (with ``paths``) a Strategy importable by its dotted path."""
    from trajscope.engine.search.strategy import Strategy

    found = STRATEGIES.resolve(name, paths)
    if not (isinstance(found.obj, type) and issubclass(found.obj, Strategy)):
        raise ValueError(f"{name} is not a strategy: a strategy subclasses trajscope.engine.search.strategy.Strategy")
    return found.obj, found.options


def make_strategy(config, tree):
    """The strategy ``config.strategy`` names, wrapped in PDR rounds when ``config.refine_rounds``."""
    cls, options = strategy_class(config.strategy)
    strategy = cls(config, tree, **options)
    if config.refine_rounds:
        from trajscope.engine.search.refine import Refine

        strategy = Refine(strategy)
    return strategy
