"""Process reward models: score each step by P(this path resolves the task) (docs/architecture.md section 6)."""
