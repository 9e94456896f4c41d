"""Process reward models: score each step by P(this path resolves the task) (DESIGN section 6)."""
