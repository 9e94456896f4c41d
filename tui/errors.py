"""Errors the command line shows as one sentence."""


class UserError(Exception):
    """Something the user can fix; printed as one sentence, exit code 2."""
