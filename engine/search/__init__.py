"""Search strategies over agent trajectories (docs/architecture.md section 5)."""

STRATEGIES = ("linear", "sample", "dars", "prune", "dars+prune")
"""The search strategies, in the order the command line lists them."""
