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
from typing import TYPE_CHECKING, ClassVar, Literal

from trajscope.engine.events import LogFollower, ReadCounts
from trajscope.engine.formats import FormatError, load
from trajscope.engine.formats.progressive import read_parts
from trajscope.engine.tree import Tree

if TYPE_CHECKING:  # a live search's modules load when one starts, not with every file opened
    from trajscope.engine.live import LiveSearch

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


AHEAD = 20_000
"""Events read but not folded yet, at most (beyond this the reader waits for the fold)."""


class PartReader:
    """A file read in parts by a thread while its first steps are already on screen.

    The thread folds the first part into a tree no widget sees yet (``first`` is set when
    ``tree``, or ``error``, one sentence, is there), then puts the events of each later part
    in ``pump``, which the explorer folds on its timer like a followed log's. It waits while
    the pump is full, so the events read ahead of the fold stay few, and reads nothing more
    until the first part is shown."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pump = EventPump()
        self.first = threading.Event()
        self.shown = threading.Event()  # the first part is on screen: the rest is read from here
        self.tree: Tree | None = None
        self.replacement: Tree | None = None  # the whole file's tree, when its end changed its start
        self.error: str | None = None
        self.counts = ReadCounts()
        self.format = ""
        self.done = 0
        self.size = 0
        self.finished = False  # every part is in the pump, or the reading stopped
        self._thread = threading.Thread(target=self._run, name="trajscope-read", daemon=True)

    def start(self) -> PartReader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.pump.stop.set()
        self.shown.set()

    @property
    def complete(self) -> bool:
        """Every event of the file has been taken from the pump."""
        return self.finished and not len(self.pump)

    @property
    def progress(self) -> str:
        share = self.done / self.size if self.size else 1.0
        return f"reading {share:.0%} of {self.size / 1e6:.1f} MB"

    def _run(self) -> None:
        stop = self.pump.stop
        try:
            for part in read_parts(self.path):
                if stop.is_set():
                    return
                self.counts, self.format = part.counts, part.format
                if self.tree is None:
                    self.tree = Tree.fold(part.events)
                    self.first.set()
                    # The app's start-up and first frame take the interpreter lock that reading
                    # would share: the rest waits for them (at most a few seconds).
                    self.shown.wait(5)
                elif part.replace:
                    self.replacement = Tree.fold(part.events)
                else:
                    self.pump.put(part.events)
                self.done, self.size = part.done, part.size
                while len(self.pump) > AHEAD and not stop.wait(0.01):
                    pass
        except FormatError as exc:
            self.error = str(exc)
        except OSError as exc:
            self.error = f"{self.path} cannot be read: {exc.strerror or exc}"
        finally:
            self.finished = True
            self.first.set()


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
        self._reader: PartReader | None = None

    def prefetch(self) -> None:
        """Start reading a file that will not change, while the app starts up (the first
        paint then waits only for the file's first part)."""
        if self.kind == "file" and not self.grows and self._reader is None:
            self._reader = self.parts()

    def parts(self) -> PartReader | None:
        """A started reader of the file in parts (the prefetch's, once), or None where the
        source is read whole (``loaded``)."""
        if self.kind != "file" or self.grows:
            return None
        reader, self._reader = self._reader, None
        return reader or PartReader(self.path).start()

    @property
    def grows(self) -> bool:
        """Whether the tree shown changes while it is shown (followed, replayed, a live search)."""
        return self.follow or bool(self.replay)

    def read(self) -> tuple[Tree, ReadCounts, str]:
        """Read or convert the file and fold it (in a worker thread)."""
        loaded = load(self.path)
        return Tree.fold(loaded.events), loaded.counts, loaded.format

    def loaded(self) -> tuple[Tree, ReadCounts, str]:
        """The folded tree of a source read whole."""
        return self.read()

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

    def parts(self) -> None:
        return None  # read whole by its reference (a run of a multi-run file is not a file of its own)

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
