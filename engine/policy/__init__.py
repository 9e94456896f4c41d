"""Policies: what proposes the agent's next action (docs/architecture.md section 1, ``policy/``)."""
