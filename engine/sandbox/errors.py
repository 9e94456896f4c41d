"""The one error of the sandbox layer, below every module of it (programs, base, confine...),
so each raises it without importing the others."""

from trajscope.engine.errors import UserCausedError


class SandboxError(UserCausedError):
    """A sandbox operation failed; the message is one sentence for the user."""
