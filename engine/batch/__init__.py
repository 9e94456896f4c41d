"""Many searches at once, wherever they run: the worker that runs one search from its spec
(a process here or a Ray actor on a node), the executors that start and restart workers,
and the fleet that drives them and keeps each run log. It is search orchestration, not UI:
the fleet screen (tui/screens/fleet.py) and the remote live search the app shows
(tui/remote.py) sit on top of it.
"""

from trajscope.engine.errors import UserCausedError


class BatchError(UserCausedError):
    """A batch that cannot start: its folder, its executor, its cluster."""
