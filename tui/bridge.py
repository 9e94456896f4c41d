"""Engine events to the UI, and UI commands to the engine.

Producers (a follower thread, a replay thread, a live Session's workers) never touch
widgets: they fill an ``EventPump`` and the screen folds each batch on the UI thread
every 50-100 ms. Commands go the other way through ``SessionBridge``: each runs in a
thread, so the UI thread never waits on Docker, litellm or torch.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path
from typing import ClassVar, Literal

from trajscope.engine.events import LogFollower, ReadCounts
from trajscope.engine.formats import FormatError, load
from trajscope.engine.live import LiveSearch
from trajscope.engine.tree import Tree

DRAIN_INTERVAL_S = 0.075
MAX_BATCH = 5000  # events folded per tick, so one burst cannot stall a keypress


class EventPump:
    """A thread-safe queue of events waiting to be folded on the UI thread."""

    def __init__(self) -> None:
        self._queue: deque[dict] = deque()
        self.stop = threading.Event()
        self.counts = ReadCounts()

    def put(self, events: list[dict]) -> None:
        self._queue.extend(events)

    def put_one(self, event: dict) -> None:
        self._queue.append(event)

    def drain(self, limit: int = MAX_BATCH) -> list[dict]:
        queue = self._queue
        n = min(limit, len(queue))
        return [queue.popleft() for _ in range(n)]

    def __len__(self) -> int:
        return len(self._queue)


def start_follow(path: Path) -> tuple[Tree, LogFollower]:
    """Fold what a run log holds now; the follower then feeds the pump with what is appended."""
    follower = LogFollower(path)
    events = follower.poll()
    if not events and follower.counts.damaged > 0:
        raise FormatError(f"{path} is not a run log; --follow reads run logs only")
    return Tree.fold(events), follower


def run_follow(follower: LogFollower, pump: EventPump) -> None:
    pump.counts = follower.counts  # the same object: the status bar sees skips as they happen
    for batch in follower.follow(pump.stop):
        pump.put(batch)


def run_replay(events: list[dict], pump: EventPump, speed: float, max_gap_s: float = 1.0) -> None:
    """Feed recorded events at ``speed`` times their recorded pace (long pauses capped)."""
    speed = max(speed, 1e-3)
    previous = None
    for event in events:
        if pump.stop.is_set():
            return
        ts = event.get("ts")
        if isinstance(ts, (int, float)) and previous is not None:
            gap = min(max(ts - previous, 0.0), max_gap_s) / speed
            if gap > 0 and pump.stop.wait(gap):
                return
        if isinstance(ts, (int, float)):
            previous = ts
        pump.put([event])
        time.sleep(0)


SourceKind = Literal["file", "runs", "live", "fleet"]


class Source:
    """What the explorer shows: a file, and whether to follow or replay it.

    ``kind`` is what the app opens on a source: the explorer on a file, the runs screen on
    many runs, the live screen on a search (``LiveSource``), the fleet screen on a batch.
    ``can_go_back``: the screen was opened from another one (the runs or fleet screen), which
    escape returns to."""

    kind: ClassVar[SourceKind] = "file"
    can_go_back: ClassVar[bool] = False

    def __init__(self, path: str | Path, follow: bool = False, replay: float | None = None) -> None:
        self.path = Path(path)
        self.follow = follow
        self.replay = replay
        self._prefetch: tuple[threading.Thread, list] | None = None

    def prefetch(self) -> None:
        """Start reading a file that will not change, while the app starts up (the first
        paint then waits only for what is left of the load)."""
        if self.kind != "file" or self.follow or self.replay or self._prefetch is not None:
            return
        box: list = []

        def work() -> None:
            try:
                box.append(self.read())
            except BaseException as exc:  # given to the screen that asks for the tree
                box.append(exc)

        thread = threading.Thread(target=work, name="trajscope-prefetch", daemon=True)
        self._prefetch = (thread, box)
        thread.start()

    @property
    def grows(self) -> bool:
        """Whether the tree shown changes while it is shown (followed, replayed, a live search)."""
        return self.follow or bool(self.replay)

    def read(self) -> tuple[Tree, ReadCounts, str]:
        """Read or convert the file and fold it (in a worker thread)."""
        loaded = load(self.path)
        return Tree.fold(loaded.events), loaded.counts, loaded.format

    @property
    def ready(self) -> bool:
        """The prefetch has finished (its tree can be taken without waiting)."""
        return self._prefetch is not None and not self._prefetch[0].is_alive()

    def loaded(self) -> tuple[Tree, ReadCounts, str]:
        """The folded tree (the prefetch's, once: a second screen reads the file again)."""
        if self._prefetch is None:
            return self.read()
        thread, box = self._prefetch
        self._prefetch = None
        thread.join()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    @property
    def mode(self) -> str:
        if self.follow:
            return "following"
        if self.replay:
            return f"replay ×{self.replay:g}"
        return ""


class RunSource(Source):
    """One run of many (a row of the runs screen), parsed when it is opened."""

    can_go_back = True

    def __init__(self, ref, verdicts: dict | None = None) -> None:
        super().__init__(ref.path)
        self.ref, self.verdicts = ref, verdicts or {}

    def read(self) -> tuple[Tree, ReadCounts, str]:
        loaded = self.ref.load(self.verdicts)
        return Tree.fold(loaded.events), loaded.counts, loaded.format


class RunsSource(Source):
    """A folder or a multi-run file: the runs screen lists its runs."""

    kind = "runs"

    def __init__(self, path: str | Path, refs: list, verdicts: dict | None = None) -> None:
        super().__init__(path)
        self.refs, self.verdicts = refs, verdicts or {}


class LiveSource(Source):
    """A live search (a Session in this process, or a RemoteSession): the live screen subscribes
    to it and steers it. ``read_only``: its controls are refused (a served search's read-only
    viewer; the search refuses them too)."""

    kind = "live"

    def __init__(self, session: LiveSearch, read_only: bool = False) -> None:
        super().__init__(session.log_path)
        self.session, self.read_only = session, read_only

    @property
    def grows(self) -> bool:
        return True

    @property
    def mode(self) -> str:
        session = self.session
        if session.finished and not session.busy:
            return f"finished: {session.finished}"
        return "paused" if session.paused else "searching"


def attach_live(session: LiveSearch, pump: EventPump) -> Tree:
    """The tree as it is now; every later event goes to ``pump`` (none missed, none twice)."""
    return Tree.fold(session.subscribe(pump.put_one))


def detach_live(session: LiveSearch, pump: EventPump) -> None:
    session.unsubscribe(pump.put_one)


class SessionBridge:
    """Runs a person's commands (session.commands) in worker threads and reports failures as notifications."""

    def __init__(self, screen, session: LiveSearch) -> None:
        self.screen, self.session = screen, session

    def call(self, name: str, *args, done: str | None = None, **kwargs) -> None:
        method = getattr(self.session.commands, name)
        app = self.screen.app

        def run() -> None:
            try:
                method(*args, **kwargs)
            except (KeyError, ValueError, RuntimeError) as exc:
                reason = exc.args[0] if exc.args else str(exc)
                app.call_from_thread(app.notify, f"{name} failed: {reason}", severity="error")
                return
            if done:
                app.call_from_thread(app.notify, done, timeout=2)

        self.screen.run_worker(
            run, thread=True, exit_on_error=False, group="commands", description=f"session.commands.{name}"
        )
