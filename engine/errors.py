"""The one base class of the errors a user can cause or fix (docs/architecture.md section 8).

A bad input file, a missing image, a refused checkpoint, an unknown option, a key that is not
set: each module raises its own subclass (``TaskError``, ``SandboxError``...) so its callers
can catch what they expect, and the command line catches this one class to print the message
as one sentence with exit code 2 instead of a traceback. It sits below every other engine
module, so any of them may raise it without importing anything above itself.
"""

from __future__ import annotations


class UserCausedError(Exception):
    """Something the user can fix; the message is one sentence for them (exit code 2)."""
