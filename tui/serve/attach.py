"""A viewer of a served search (``trajscope attach``, started by the web server once per browser
connection): the live screen on the search the serve process runs, its tree from following the
search's log, its state and the controls through the control socket (the status socket only,
for a read-only viewer: its controls are absent here and refused there)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from trajscope.engine.events import LogFollower
from trajscope.engine.tree import Tree
from trajscope.tui.remote import RemoteLiveSource

FOLLOW_S = 0.1
STATUS_S = 0.25


class Watched:
    """A served search as RemoteSession follows it (``remote.Followed``): its tree, log,
    listeners and status."""

    def __init__(self, log: Path, client, name: str) -> None:
        self.name, self.log, self.client = name, Path(log), client
        self.tree = Tree()
        self.lock = threading.Lock()
        self.listeners: list = []
        self.status: dict = {}
        self.node, self.reason = "", ""
        self._events: list[dict] = []
        self._stop = threading.Event()
        threading.Thread(target=self._follow, name="trajscope-attach-follow", daemon=True).start()
        threading.Thread(target=self._poll_status, name="trajscope-attach-status", daemon=True).start()

    @property
    def state(self) -> str:
        return str(self.status.get("state") or "starting")

    @property
    def done(self) -> bool:
        return self.state in ("failed", "stopped", "gone")

    def events_so_far(self) -> list[dict]:
        return list(self._events)

    def _follow(self) -> None:
        follower = LogFollower(self.log)
        while not self._stop.wait(FOLLOW_S):
            events = follower.poll()
            if not events:
                continue
            with self.lock:
                for event in events:
                    self.tree.apply(event)
                self._events.extend(events)
                listeners = list(self.listeners)
            for listener in listeners:
                for event in events:
                    listener(event)

    def _poll_status(self) -> None:
        while not self._stop.wait(STATUS_S):
            self.status = self.client.status()
            self.reason = str(self.status.get("error") or self.status.get("finished") or "")

    def close(self) -> None:
        self._stop.set()


class AttachSource(RemoteLiveSource):
    """The served search, the first and only screen of a viewer (read-only: the live screen
    without its controls)."""

    can_go_back = False

    def __init__(self, watched: Watched, read_only: bool) -> None:
        super().__init__(watched.client, watched, read_only=read_only)

    @property
    def mode(self) -> str:
        base = super().mode
        return f"{base} · read-only" if self.read_only else base


def run_viewer(log: str, socket_path: str, read_only: bool, name: str, theme: str | None = None) -> int:
    from trajscope.tui.app import TrajscopeApp
    from trajscope.engine.batch.control import ControlClient

    watched = Watched(Path(log), ControlClient(socket_path), name)
    deadline = time.monotonic() + 10
    while not watched.status and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        TrajscopeApp(AttachSource(watched, read_only), theme=theme).run()
    finally:
        watched.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m trajscope.tui.serve.attach LOG --socket PATH [--read-only]``: what the web server runs
    for each browser connection (not a command people type)."""
    import argparse

    p = argparse.ArgumentParser(prog="trajscope-attach")
    p.add_argument("log")
    p.add_argument("--socket", required=True)
    p.add_argument("--name", default="search")
    p.add_argument("--read-only", action="store_true")
    p.add_argument("--theme")
    args = p.parse_args(argv)
    return run_viewer(args.log, args.socket, args.read_only, args.name, args.theme)


if __name__ == "__main__":
    raise SystemExit(main())
