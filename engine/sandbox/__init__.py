"""Sandboxes: where agent actions really run (docs/architecture.md section 3)."""

from trajscope.engine.sandbox.base import (
    DEFAULT_TIMEOUT,
    OUTPUT_CAP,
    ExecResult,
    PathOutsideRepo,
    Sandbox,
    SandboxError,
    StateRef,
)

__all__ = ["DEFAULT_TIMEOUT", "OUTPUT_CAP", "ExecResult", "PathOutsideRepo", "Sandbox", "SandboxError", "StateRef"]
