"""Policies: what proposes the agent's next action (DESIGN section 1, ``policy/``)."""
