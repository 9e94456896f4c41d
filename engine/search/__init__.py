"""Search strategies over agent trajectories (DESIGN section 5)."""
