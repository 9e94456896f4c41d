"""The driver of a batch: one thread per search pulls its log into DIR/<instance>.jsonl, keeps
its state for the fleet screen, starts it again after a restart, and forwards a person's
commands to it, wherever it runs. The folder is locked for the batch's life (a second batch
into it is refused) and every file in it is written through engine/files.py.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from trajscope.engine.events import read_events
from trajscope.engine.files import Folder
from trajscope.engine.batch.folder import claim_folder, log_names, run_names
from trajscope.engine.tree import Tree
from trajscope.engine.batch.executors import CALL_TIMEOUT_S, WorkerLost

POLL_S = 0.2
LOCAL_RESTARTS = 3  # a local worker process that dies is started again this often (Ray: RAY_RESTARTS)
CLOSE_TIMEOUT_S = 60.0


@dataclass
class Member:
    """One search of the batch, as the driver sees it."""

    name: str  # the run's name (run_names)
    spec: dict
    log: Path
    instance_id: str = ""  # the task's own id, which the predictions name
    state: str = "queued"  # queued, starting, running, finished, failed, stopped
    reason: str = ""
    node: str = ""
    restarts: int = 0
    offset: int = 0
    incarnation: str | None = None
    starts: int = 0  # workers given the log to start from (the second and later are restarts)
    events: int = 0  # events taken from the worker
    status: dict = field(default_factory=dict)
    tree: Tree = field(default_factory=Tree)
    result: dict | None = None
    handle: object = None
    file: object = None  # the driver's log, open (and locked) while its search runs
    listeners: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    through: threading.Event = field(default_factory=threading.Event)  # its driver thread has ended

    @property
    def done(self) -> bool:
        return self.state in ("finished", "failed", "stopped")

    def events_so_far(self) -> list[dict]:
        """The events of the driver's copy of the log now (``lock`` held: it is written under it)."""
        return list(read_events(self.log)) if self.log.exists() else []

    def row(self) -> dict:
        """What the fleet screen and the summary show of it: ``verdict`` and ``selected_resolved``
        are the selected patch's (the one in predictions.jsonl), ``any_resolved`` says whether any
        submission of the search passed (resolved_words)."""
        result = self.result or {}
        verdict = result.get("verdict") or ("resolved" if result.get("resolved") else None)
        with self.lock:
            stats = self.tree.stats()
            best = self.tree.best_leaf()
            score = self.tree.nodes[best].score if best else None
        return {
            "run": self.name,
            "instance_id": self.instance_id or self.name,
            "state": self.state,
            "reason": self.reason,
            "node": self.node,
            "restarts": self.restarts,
            "nodes": stats["nodes"],
            "submissions": stats["submissions"],
            "best": score,
            "verdict": verdict,
            "selected_resolved": bool(result.get("resolved")),
            "any_resolved": stats["resolved"] > 0,
            "oracle": bool((self.spec.get("search") or {}).get("oracle")),  # --oracle: the verdicts steered it
            "tokens": stats["tokens"],
            "cost": stats["cost"],
            "log": str(self.log),
        }


class Fleet:
    """Runs ``specs`` on ``executor`` with at most ``parallel`` at once (Ray: as its resources
    allow), writing in ``folder`` (``claim_folder``'s, claimed here when not given)."""

    def __init__(
        self,
        specs: list[dict],
        executor,
        out_dir: Path,
        parallel: int,
        resume: bool = False,
        folder: Folder | None = None,
    ) -> None:
        self.executor, self.parallel, self.out_dir = executor, max(1, parallel), Path(out_dir)
        runs = run_names(specs)
        names, self.renamed = log_names(runs)
        self.folder = folder or claim_folder(self.out_dir, names, resume)
        # the worker's log takes the run's name, so its events' ``run`` is that name too
        self.members = [
            Member(Path(name).stem, spec | {"run": Path(name).stem}, self.folder.child(name), spec["name"])
            for spec, name in zip(specs, names)
        ]
        self.slots = threading.Semaphore(self.parallel if not executor.restarts_itself else len(self.members) or 1)
        self.stopping = threading.Event()
        self.stop_reason = "finished"  # what a search closed by the driver is told
        self.paused = False
        self.started_s = time.monotonic()
        self._threads: list[threading.Thread] = []
        self.changed = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        for member in self.members:
            thread = threading.Thread(
                target=self._drive, args=(member,), name=f"trajscope-fleet-{member.name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Until every search's thread is through (its worker closed and cleaned up). Events,
        not Thread.join: a Ctrl-C that interrupts a join can leave the thread looking ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for member in self.members:
            member.through.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return all(m.through.is_set() for m in self.members)

    @property
    def finished(self) -> bool:
        return all(m.done for m in self.members)

    def stop(self, reason: str = "stopped by the user") -> None:
        """Stop every search (their sandboxes are removed) and wait for the threads, bounded."""
        self.stopping.set()
        self.stop_reason = reason
        self.wait(CLOSE_TIMEOUT_S)
        for member in self.members:
            if member.handle is not None:
                member.handle.kill()
        self.executor.shutdown()

    def close(self) -> None:
        """Give the folder up (its lock goes with it), once the batch's own files are written."""
        self.folder.close()

    # -- one search --------------------------------------------------------------------------
    def _drive(self, member: Member) -> None:
        with self.slots:
            if self.stopping.is_set():
                member.state, member.reason = "stopped", "the batch was stopped before it started"
                member.through.set()
                self.changed.set()
                return
            try:
                self._run(member)
            except Exception as exc:  # noqa: BLE001 - one failed search is a row, the rest go on
                member.state, member.reason = "failed", f"{type(exc).__name__}: {exc}"
            finally:
                if member.handle is not None:
                    try:  # the search ends its log; the driver takes the rest of it; the worker cleans up
                        member.handle.call("close", self.stop_reason, timeout=CLOSE_TIMEOUT_S)
                    except (WorkerLost, TimeoutError, RuntimeError):
                        pass
                    self._pull(member)  # whatever close answered: what the log holds is kept
                    try:
                        member.handle.call("dispose", timeout=CLOSE_TIMEOUT_S)
                    except (WorkerLost, TimeoutError, RuntimeError):
                        pass
                    member.handle.kill()
                if member.file is not None:
                    member.file.close()  # its lock goes with it
                member.through.set()
                self.changed.set()

    def _run(self, member: Member) -> None:
        member.file = self.folder.open_append(member.log.name, lock=True)
        if os.fstat(member.file.fileno()).st_size:  # --resume: the batch goes on from its logs
            from trajscope.engine.events import ReadCounts, check_run_log, parse_lines

            check_run_log(member.file.fileno(), member.log)  # as it is now, not as claim_folder saw it

            with member.lock:
                member.tree = Tree.fold(parse_lines(self._log_bytes(member), ReadCounts()))
        member.handle = self.executor.spawn(member.spec)
        local_restarts = 0
        while True:
            if self.stopping.is_set():
                member.state = "stopped" if not member.done else member.state
                member.reason = member.reason or self.stop_reason
                self._pull(member)
                return
            try:
                reply = member.handle.call("read", member.offset, timeout=CALL_TIMEOUT_S if member.incarnation else 2.0)
            except TimeoutError:
                if member.incarnation is None:
                    member.state = "queued"  # Ray has not placed the actor yet
                continue
            except WorkerLost as exc:
                if self.executor.restarts_itself or local_restarts >= LOCAL_RESTARTS:
                    member.state, member.reason = "failed", str(exc)
                    return
                local_restarts += 1
                member.handle.kill()
                member.handle = self.executor.spawn(member.spec)
                continue
            self._take(member, reply)
            status = reply["status"]
            if status["state"] == "idle":  # a new worker, or one Ray restarted: give it the log so far
                if member.starts:
                    member.restarts += 1
                member.starts += 1
                with member.lock:
                    prefix = self._log_bytes(member)
                    member.offset = len(prefix)  # the worker's log starts with these very bytes
                member.handle.call("start", prefix, timeout=CALL_TIMEOUT_S)
                if self.paused:
                    try:
                        self._command(member, "pause", [], {})
                    except RuntimeError:
                        pass
                continue
            if status["state"] in ("finished", "failed", "stopped"):
                self._pull(member)
                member.result = status.get("result")
                member.state = status["state"]
                member.reason = status.get("error") or status.get("finished") or ""
                return
            member.state = status["state"]
            self.stopping.wait(POLL_S)

    @staticmethod
    def _log_bytes(member: Member) -> bytes:
        """What the driver's log holds, read from its own open file (never a path that may have
        changed since)."""
        fd = member.file.fileno()
        size = os.fstat(fd).st_size
        chunks, done = [], 0
        while done < size and (chunk := os.pread(fd, min(1 << 24, size - done), done)):
            chunks.append(chunk)
            done += len(chunk)
        return b"".join(chunks)

    def _pull(self, member: Member) -> None:
        """Everything the worker has that the driver does not (before closing it)."""
        for _ in range(10_000):
            try:
                reply = member.handle.call("read", member.offset, timeout=CALL_TIMEOUT_S)
            except (WorkerLost, TimeoutError, RuntimeError):
                return
            if not reply["data"]:
                return
            self._take(member, reply)

    def _take(self, member: Member, reply: dict) -> None:
        """Append the worker's new bytes to the driver's log and hand their events on."""
        status = reply["status"]
        member.status = status
        member.node = status.get("node") or status.get("host") or member.node
        member.incarnation = reply["incarnation"]
        data = reply["data"]
        if data:
            events = []
            for line in data.splitlines():
                try:
                    events.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue
            with member.lock:
                member.file.write(data)
                member.file.flush()
                member.offset += len(data)
                member.events += len(events)
                for event in events:
                    member.tree.apply(event)
                listeners = list(member.listeners)
            for listener in listeners:
                for event in events:
                    listener(event)
        self.changed.set()

    # -- a person's commands -----------------------------------------------------------------
    def _command(self, member: Member, name: str, args: list, kwargs: dict) -> None:
        if member.handle is None or member.done:
            raise RuntimeError(f"{member.name} is {member.state}")
        try:
            error = member.handle.call("command", name, list(args), dict(kwargs), timeout=600.0)
        except (WorkerLost, TimeoutError) as exc:
            raise RuntimeError(f"{member.name}: {exc}") from None
        if error:
            raise RuntimeError(error)

    def command(self, member: Member, name: str, *args, **kwargs) -> None:
        self._command(member, name, list(args), kwargs)

    def pause_all(self, paused: bool) -> int:
        """Pause (or resume) every running search; how many it reached."""
        self.paused = paused
        reached = 0
        for member in self.members:
            if member.state == "running":
                try:
                    self._command(member, "pause" if paused else "resume", [], {})
                    reached += 1
                except RuntimeError:
                    pass
        return reached

    # -- what the screens show ---------------------------------------------------------------
    def totals(self) -> dict:
        rows = [m.row() for m in self.members]
        elapsed = time.monotonic() - self.started_s
        done = sum(m.done for m in self.members)
        nodes = sum(r["nodes"] for r in rows)
        return {
            "instances": len(rows),
            "queued": sum(m.state == "queued" for m in self.members),
            "running": sum(m.state in ("running", "starting") for m in self.members),
            "done": done,
            "selected_resolved": sum(r["selected_resolved"] for r in rows),
            "any_resolved": sum(r["any_resolved"] for r in rows),
            "oracle": any(r["oracle"] for r in rows),
            "failed": sum(m.state == "failed" for m in self.members),
            "restarts": sum(m.restarts for m in self.members),
            "nodes": nodes,
            "tokens": sum(r["tokens"] for r in rows),
            "cost": round(sum(r["cost"] for r in rows), 6),
            "elapsed_s": round(elapsed, 3),
            "searches_per_hour": round(done / elapsed * 3600, 2) if elapsed else 0.0,
            "nodes_per_s": round(nodes / elapsed, 3) if elapsed else 0.0,
            "paused": self.paused,
            "executor": self.executor.name,
        }
