"""Errors the command line shows as one sentence."""

from trajscope.engine.errors import UserCausedError


class UserError(UserCausedError):
    """Something the user can fix; printed as one sentence, exit code 2."""
