"""``trajscope serve``: the app in a browser, for live demos (textual-serve).

``serve demo [TASK]`` (the same options and search as ``trajscope demo``) and ``serve search
TASK ...`` run ONE search in this process, started when the first viewer arrives (a new one
for a viewer who finds the last ended and nobody watching: tui/serve/shared.py); every
browser connection is a viewer of that search (its own app process, following the search's
log and steering it through a private control socket), so all viewers watch and steer the
same tree. ``serve open RUN [--follow]`` and ``serve batch DIR`` show a log or a folder of
runs, read-only by nature. Every viewer needs the token, on 127.0.0.1 too (generated and
printed once as the URL to open, or given with ``--token``); the server answers only to the
names it knows (``--allow-host`` adds one) and to pages of its own origin; ``--max-viewers``
bounds the app processes; ``--read-only`` viewers have no controls, and the search refuses
their commands.
"""

from __future__ import annotations

import argparse
import secrets
import shlex
import sys
from pathlib import Path

from trajscope.tui.cli.common import (
    add_out_option,
    add_policy_options,
    add_search_options,
    add_task_arguments,
    check_out_log,
    default_out,
)
from trajscope.tui.cli.specs import spec_help


def _web_options(p: argparse.ArgumentParser) -> None:
    from trajscope.tui.serve.web import MAX_VIEWERS

    p.add_argument("--host", default="127.0.0.1", help="where to listen (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token", help="the token viewers need, 16 characters or more (default: a random one)")
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a name browsers may reach this server by, besides localhost's and --host's "
        "(a reverse proxy's; repeatable)",
    )
    p.add_argument(
        "--max-viewers",
        type=int,
        default=MAX_VIEWERS,
        metavar="N",
        help=f"viewers at once, each an app process (default {MAX_VIEWERS})",
    )
    p.add_argument("--read-only", action="store_true", help="viewers watch; no command can be sent")


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="the app in a browser, safe to share (demo, search, open, batch)")
    modes = p.add_subparsers(dest="mode", required=True, metavar="MODE")
    from trajscope.tui.cli.demo import add_demo_options

    demo = modes.add_parser(
        "demo",
        help="`trajscope demo`'s search (its options and defaults), shared by every "
        "viewer, started when the first one arrives",
    )
    add_demo_options(demo)
    _web_options(demo)
    search = modes.add_parser("search", help="a search, shared by every viewer, started when the first one arrives")
    add_task_arguments(search)
    add_policy_options(search)
    add_search_options(search)
    add_out_option(search)
    search.add_argument("--pace", type=float, default=0.0, help=spec_help("pace"))
    _web_options(search)
    show = modes.add_parser("open", help="a run log (--follow: as another process writes it), read-only")
    show.add_argument("run")
    show.add_argument("--follow", action="store_true")
    _web_options(show)
    batch = modes.add_parser("batch", help="a batch's folder in the runs screen, read-only")
    batch.add_argument("dir")
    _web_options(batch)


def _token(args) -> str:
    """Always a token: a local port is open to every local user and to every page in the browser."""
    if args.token is not None:
        if len(args.token) < 16:
            from trajscope.tui.errors import UserError

            raise UserError("--token must be at least 16 characters")
        return args.token
    return secrets.token_urlsafe(24)


def _search_maker(args):
    """A function giving a new, unstarted SearchWorker of the one search every viewer shares, each
    with its own log (``--out`` first, then a free name beside it); what could be wrong with the
    task, the options or --out is said here, before the server listens."""
    import trajscope.engine.launch  # noqa: F401 - fail here, not in the worker thread
    from trajscope.engine.batch.worker import SearchWorker
    from trajscope.engine.files import create_unique
    from trajscope.engine.tasks import load_task
    from trajscope.tui.cli.specs import spec_from_args

    spec = spec_from_args(args)  # demo: `trajscope demo`'s defaults, the parser's
    loaded = load_task(args.task, args.instance)
    first = Path(args.out) if args.out else None
    if first is not None:
        check_out_log(first)
    made = 0

    def make() -> SearchWorker:
        nonlocal made
        if first is not None:
            first.parent.mkdir(parents=True, exist_ok=True)
            out = create_unique(first) if made else first
        else:
            out = default_out(loaded.instance_id)
        made += 1
        return SearchWorker(
            {
                "name": loaded.instance_id,
                "task": str(args.task),
                "instance": args.instance,
                "search": spec.to_json(secrets=True),
                "log": str(Path(out).resolve()),
                "close_when_done": False,
            }
        )

    return make


def run(args) -> int:
    from trajscope.tui.errors import UserError

    try:
        import textual_serve.server  # noqa: F401 - the [serve] extra

        from trajscope.tui.serve.web import guarded_server, machine_addresses, share_url
    except ImportError:
        raise UserError("serving in a browser needs textual-serve: pip install 'trajscope[serve]'") from None
    token = _token(args)
    if args.max_viewers < 1:
        raise UserError("--max-viewers must be 1 or more")
    python = shlex.quote(sys.executable)
    shared = None
    if args.mode in ("demo", "search"):
        from trajscope.tui.serve.shared import SharedSearch

        shared = SharedSearch(
            _search_maker(args), args.read_only, lambda line: print(f"trajscope: {line}", file=sys.stderr, flush=True)
        )
        command = ""  # each viewer's: the search's current log and sockets
        what = f"a search of {args.task} (it starts when the first viewer arrives)"
    else:
        target = Path(args.run if args.mode == "open" else args.dir)
        if not target.exists():
            raise UserError(f"{target} does not exist")
        command = f"{python} -m tui.cli open {shlex.quote(str(target.resolve()))}"
        if args.mode == "open" and args.follow:
            command += " --follow"
        what = str(target)
    server = guarded_server(
        command,
        args.host,
        args.port,
        token,
        title=f"trajscope · {what}",
        allow_hosts=args.allow_host,
        max_viewers=args.max_viewers,
        viewer_command=shared.viewer_command if shared else None,
    )
    url = share_url(args.host, args.port, token)
    addresses = machine_addresses() if args.host in ("0.0.0.0", "::", "") else []
    by_address = f" (or by address: {', '.join(addresses[:4])})" if addresses else ""
    access = "read-only" if args.read_only or args.mode in ("open", "batch") else "viewers can steer it"
    # the one place the token is shown: every log line of this process is scrubbed of it
    print(
        f"trajscope: serving {what} at {url}{by_address} ({access}, at most {args.max_viewers} viewers); "
        f"Ctrl-C stops it",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve()
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc})") from None
    finally:
        if shared is not None:
            _stopped(shared)
    return 0


def _stopped(shared) -> None:
    """Ctrl-C: the summary `q` prints in the terminal's demo, of the search the viewers shared."""
    from trajscope.tui.cli.search import summary_lines

    worker = shared.worker
    result = shared.close()
    if result is not None:
        print(summary_lines(result), file=sys.stderr)
    elif worker is not None:
        print(
            f"trajscope: the search did not start ({worker.error or worker.state}); log {worker.log}", file=sys.stderr
        )
    else:
        print("trajscope: no viewer came, so no search was started", file=sys.stderr)
