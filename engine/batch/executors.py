"""Where a batch's searches run: worker processes on this machine, or Ray actors on a cluster.

Both give the driver the same handle: ``call(method, *args, timeout=...)`` on the
SearchWorker behind it, raising ``WorkerLost`` when the worker is gone for good and
``TimeoutError`` when it did not answer in time. Ray does the placement (a custom resource
marks the nodes that have a Docker engine and the image), the restarts and the node-failure
detection; the local executor only starts processes, and starts a dead one again.
"""

from __future__ import annotations

import ipaddress
import itertools
import multiprocessing
import os
import signal
import threading
from concurrent.futures import Future

CALL_TIMEOUT_S = 30.0
RAY_RESTARTS = 3
# Ray's switch for "no cluster of several machines": the node's address, which every one of its
# servers binds, is then the loopback one (Ray's default on macOS and Windows)
RAY_ONE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class WorkerLost(Exception):
    """The worker is gone (its process died, or Ray gave up restarting its actor)."""


# -- local: one process per search -------------------------------------------------------------
def _serve(conn, spec: dict) -> None:
    """The worker process: answer the driver's calls, each in its own thread (a submit waits
    for its tests; reads must go on meanwhile)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's: it closes us cleanly
    from trajscope.engine.batch.worker import SearchWorker

    worker = SearchWorker(spec)
    send_lock = threading.Lock()

    def answer(call_id: int, method: str, args: tuple) -> None:
        try:
            reply = ("ok", getattr(worker, method)(*args))
        except Exception as exc:  # noqa: BLE001 - the driver shows it
            reply = ("error", f"{type(exc).__name__}: {exc}")
        with send_lock:
            try:
                conn.send((call_id, *reply))
            except (OSError, EOFError):
                pass

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            worker.dispose()
            return
        if message is None:
            return
        call_id, method, args = message
        if method == "dispose":
            answer(call_id, method, args)
            return
        threading.Thread(target=answer, args=(call_id, method, args), daemon=True).start()


class LocalHandle:
    def __init__(self, spec: dict) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child, spec), name=f"trajscope-batch-{spec['name']}", daemon=True
        )
        self.process.start()
        child.close()
        self._ids = itertools.count()
        self._waiting: dict[int, Future] = {}
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._receive, daemon=True)
        self._reader.start()

    def _receive(self) -> None:
        while True:
            try:
                call_id, kind, value = self._conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                future = self._waiting.pop(call_id, None)
            if future is not None:
                future.set_result((kind, value))
        with self._lock:
            waiting, self._waiting = self._waiting, {}
        self.process.join(2)
        for future in waiting.values():
            future.set_exception(WorkerLost(f"the worker process ended (exit code {self.process.exitcode})"))

    def call(self, method: str, *args, timeout: float = CALL_TIMEOUT_S):
        future: Future = Future()
        with self._lock:
            if not self.process.is_alive() and not self._reader.is_alive():
                raise WorkerLost(f"the worker process ended (exit code {self.process.exitcode})")
            call_id = next(self._ids)
            self._waiting[call_id] = future
            try:
                self._conn.send((call_id, method, args))
            except (OSError, BrokenPipeError):
                self._waiting.pop(call_id, None)
                raise WorkerLost("the worker process ended") from None
        try:
            kind, value = future.result(timeout)
        except TimeoutError:
            with self._lock:
                self._waiting.pop(call_id, None)
            if not self.process.is_alive():
                raise WorkerLost(f"the worker process ended (exit code {self.process.exitcode})") from None
            raise
        if kind == "error":
            raise RuntimeError(value)
        return value

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


class LocalExecutor:
    name = "local"
    restarts_itself = False  # the driver starts a dead worker again

    def __init__(self, parallel: int) -> None:
        self.parallel = parallel
        # multiprocessing's resource tracker, started by the first worker process, hands it
        # sys.stderr's descriptor: while an app runs, Textual's stand-in for stderr says -1, and
        # every worker started then failed ("bad value(s) in fds_to_keep"). Started here, before
        # any app, with the process's own stderr.
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()

    def spawn(self, spec: dict) -> LocalHandle:
        return LocalHandle(spec)

    def describe(self) -> str:
        return f"local: {self.parallel} worker process(es)"

    def shutdown(self) -> None:
        pass


# -- ray: one actor per search --------------------------------------------------------------------
class RayHandle:
    def __init__(self, actor, ray) -> None:
        self.actor, self._ray = actor, ray

    def call(self, method: str, *args, timeout: float = CALL_TIMEOUT_S):
        ray = self._ray
        try:
            return ray.get(getattr(self.actor, method).remote(*args), timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            raise TimeoutError(f"{method} did not answer in {timeout:g} s") from None
        except ray.exceptions.RayActorError as exc:
            raise WorkerLost(f"its Ray actor died and was not restarted ({str(exc).splitlines()[0]})") from None
        except ray.exceptions.RayTaskError as exc:
            raise RuntimeError(str(exc).splitlines()[-1]) from None

    def kill(self) -> None:
        try:
            self._ray.kill(self.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass


class RayExecutor:
    name = "ray"
    restarts_itself = True  # Ray restarts an actor whose node died, elsewhere

    def __init__(self, parallel: int, address: str | None = None, resource: str = "sandbox") -> None:
        from trajscope.engine.batch import BatchError

        try:
            import ray
        except ImportError:
            raise BatchError("--executor ray needs Ray: pip install 'trajscope[ray]'") from None
        self.ray, self.parallel, self.resource = ray, parallel, resource
        self.owned = False
        if not ray.is_initialized():
            try:
                if address:
                    ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
                else:  # a cluster of this machine alone: every search may run a sandbox here
                    self._start_local(ray, parallel, resource)
                    self.owned = True
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise BatchError(
                    f"cannot reach the Ray cluster at {address or 'a new local one'}: {str(exc).splitlines()[0]}"
                ) from None
        total = ray.cluster_resources().get(resource, 0)
        if total < 1:
            raise BatchError(
                f"no node of the Ray cluster offers the resource {resource!r}: start the nodes that "
                f"have Docker and the image with `ray start ... --resources '{{\"{resource}\": N}}'`"
            )
        from trajscope.engine.batch.worker import SearchWorker

        self._actor = ray.remote(SearchWorker).options(
            num_cpus=0, resources={resource: 1}, max_restarts=RAY_RESTARTS, max_task_retries=-1, max_concurrency=8
        )

    @staticmethod
    def _start_local(ray, parallel: int, resource: str) -> None:
        """A cluster of this machine alone, listening on the loopback address only: Ray's servers
        call any actor method for whoever connects, so nobody on the network may."""
        from ray._private import ray_constants  # the switch as Ray read it on import, for this process

        before = ray_constants.ENABLE_RAY_CLUSTER, os.environ.get(RAY_ONE_MACHINE)
        ray_constants.ENABLE_RAY_CLUSTER = False
        os.environ[RAY_ONE_MACHINE] = "0"  # for the processes it starts (they keep their environment)
        try:
            ray.init(
                address="local",
                num_cpus=max(parallel, 1),
                resources={resource: parallel},
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        finally:
            ray_constants.ENABLE_RAY_CLUSTER = before[0]
            if before[1] is None:
                os.environ.pop(RAY_ONE_MACHINE, None)
            else:
                os.environ[RAY_ONE_MACHINE] = before[1]
        host = ray.get_runtime_context().gcs_address.rsplit(":", 1)[0].strip("[]")
        if not ipaddress.ip_address(host).is_loopback:
            ray.shutdown()
            raise RuntimeError(f"Ray's local cluster listened on {host}, not on the loopback address")

    def spawn(self, spec: dict) -> RayHandle:
        return RayHandle(self._actor.remote(spec), self.ray)

    def describe(self) -> str:
        nodes = [n for n in self.ray.nodes() if n.get("Alive")]
        total = int(self.ray.cluster_resources().get(self.resource, 0))
        return f"ray: {len(nodes)} node(s), {total} {self.resource!r} slot(s)"

    def shutdown(self) -> None:
        if self.owned:
            self.ray.shutdown()
