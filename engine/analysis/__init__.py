"""Trace analysis: rubric flags, their statistics, failure clusters."""
