"""Search strategies over agent trajectories (docs/architecture.md section 5)."""
