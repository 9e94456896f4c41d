"""``trajscope bench serve``: how many viewers one served search holds, and what each costs.

A served search (``trajscope serve search``: the demo policy at ``--pace`` s a step, many
independent rollouts so that it does not end while watched) is
opened by N headless clients at once: each is what a browser tab does to the server (a
websocket to ``/ws`` with the token and the page's own ``Origin``, a terminal size, answers
to nothing else), so each starts a viewer process; the server's ``--max-viewers`` is raised
to the largest N. For each N: viewers that drew their first screen within the
deadline, the resident memory of the viewer processes (each, and together) and of the
server process, and the search's node rate meanwhile (it must not slow down).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOKEN = "bench-serve-token-0123456789"


def add_options(p) -> None:
    p.add_argument("--viewers", type=int, nargs="+", default=[1, 4, 8, 16])
    p.add_argument("--pace", type=float, default=0.2)
    p.add_argument("--seconds", type=float, default=10, help="how long each group of viewers stays connected")
    p.add_argument("--json", action="store_true")


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _viewer_pids() -> list[int]:
    found = subprocess.run(
        ["pgrep", "-f", "^[^ ]*python[^ ]* -m trajscope.tui.serve.attach"], capture_output=True, text=True
    ).stdout.split()
    return [int(p) for p in found]


def _nodes(log: Path) -> int:
    try:
        return log.read_bytes().count(b'"type":"node_added"')
    except OSError:
        return 0


async def _group(port: int, n: int, seconds: float, log: Path) -> dict:
    import aiohttp

    first_screen: list[float] = []

    async def viewer(session) -> None:
        started = time.monotonic()
        url = f"http://127.0.0.1:{port}/ws?token={TOKEN}&width=140&height=40"
        async with session.ws_connect(url, origin=f"http://127.0.0.1:{port}") as ws:
            got, drawn = 0, False
            deadline = started + seconds
            while time.monotonic() < deadline:
                try:
                    message = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    break
                if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
                got += len(message.data or b"")
                if got > 2000 and not drawn:  # a first screen's worth of escape codes
                    drawn = True
                    first_screen.append(time.monotonic() - started)
            await ws.close()

    nodes0, t0 = _nodes(log), time.monotonic()
    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(viewer(session)) for _ in range(n)]
        await asyncio.sleep(seconds * 0.8)
        pids = _viewer_pids()
        rss = [_rss_mb(p) for p in pids]
        await asyncio.gather(*tasks, return_exceptions=True)
    rate = (_nodes(log) - nodes0) / (time.monotonic() - t0)
    first_screen.sort()
    return {
        "viewers": n,
        "drew_first_screen": len(first_screen),
        "viewer_processes": len(pids),
        "first_screen_p50_s": round(first_screen[len(first_screen) // 2], 2) if first_screen else None,
        "rss_per_viewer_mb": round(sum(rss) / len(rss), 1) if rss else None,
        "rss_viewers_mb": round(sum(rss), 1),
        "nodes_per_s": round(rate, 2),
    }


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    work = Path(tempfile.mkdtemp(prefix="trajscope-bench-serve-"))
    log = work / "served.jsonl"
    from trajscope.demo_data import TASKS

    # a search that does not end while it is watched: many independent demo rollouts
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trajscope.tui.cli",
            "serve",
            "search",
            str(TASKS / "semver-prerelease"),
            "--model",
            "demo",
            "--pace",
            str(args.pace),
            "--strategy",
            "sample",
            "--samples",
            "10000",
            "--max-nodes",
            "100000",
            "--prm",
            "heuristic",
            "--sandbox",
            "local",
            "--port",
            str(port),
            "--token",
            TOKEN,
            "--out",
            str(log),
            "--max-viewers",
            str(max(args.viewers)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    results = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(2)
        idle = {"server_rss_mb": round(_rss_mb(server.pid), 1)}
        for n in args.viewers:
            console.print(f"serve: {n} viewer(s) for {args.seconds:g} s…")
            result = asyncio.run(_group(port, n, args.seconds, log))
            result["server_rss_mb"] = round(_rss_mb(server.pid), 1)
            results.append(result)
            time.sleep(2)  # the viewers' processes end
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(60)
    table = Table(title=f"one served search (server {idle['server_rss_mb']} MB with no viewer)")
    for column in (
        "viewers",
        "drew a screen",
        "processes",
        "first screen p50 s",
        "MB per viewer",
        "MB all viewers",
        "server MB",
        "nodes/s",
    ):
        table.add_column(column)
    for r in results:
        table.add_row(
            str(r["viewers"]),
            str(r["drew_first_screen"]),
            str(r["viewer_processes"]),
            str(r["first_screen_p50_s"]),
            str(r["rss_per_viewer_mb"]),
            str(r["rss_viewers_mb"]),
            str(r["server_rss_mb"]),
            str(r["nodes_per_s"]),
        )
    console.print(table)
    if args.json:
        print(json.dumps({"idle": idle, "groups": results}, indent=2))
    return 0
