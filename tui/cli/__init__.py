"""The ``trajscope`` command (docs/architecture.md section 8): one module per command in this
package, each with ``add_parser(sub)`` and ``run(args)``; ``SUBCOMMANDS`` lists them in the
order ``--help`` shows them, and ``common`` holds what several share."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

SUBCOMMANDS = (
    "open",
    "convert",
    "stats",
    "run",
    "demo",
    "search",
    "batch",
    "serve",
    "export",
    "analyze",
    "prm",
    "verify",
    "evaluate",
    "tasks",
    "sandbox",
    "bench",
    "settings",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trajscope", description="Watch and steer tree search over coding-agent trajectories."
    )
    parser.add_argument("--version", action="version", version=f"trajscope {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"trajscope.tui.cli.{name}")
        before = set(sub.choices)
        module.add_parser(sub)
        for added in set(sub.choices) - before:
            sub.choices[added].set_defaults(func=module.run)
    return parser


def _version() -> str:
    """The installed distribution's version (a checkout run without installing has none recorded)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("trajscope")
    except PackageNotFoundError:
        return "(not installed: no version recorded)"


def main(argv: list[str] | None = None) -> int:
    from trajscope.engine.errors import UserCausedError
    from trajscope.engine.redact import RedactingStream, register

    args = build_parser().parse_args(argv)
    if hasattr(args, "strategy"):  # a search: a config file or a resumed log gives way to what is named here
        from trajscope.tui.cli.specs import given_options

        args.given = given_options(build_parser(), sys.argv[1:] if argv is None else argv)
    register(getattr(args, "api_key", None))
    # A terminated trajscope still runs its exit handlers, which remove its sandboxes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Every line printed passes the redactor (a provider's error may echo the API key).
    # ... and holds no terminal code but Rich's own styles (a printed id or path may hold an OSC).
    from trajscope.tui.terminal_text import TerminalStream

    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = TerminalStream(RedactingStream(out)), TerminalStream(RedactingStream(err))
    try:
        return args.func(args)
    except UserCausedError as exc:  # every error a user can cause or fix (engine/errors.py)
        from trajscope.tui.terminal_text import plain

        print(f"trajscope: {plain(str(exc))}", file=sys.stderr)  # it may quote a file: text, not terminal codes
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `trajscope stats --json RUN | head`: the reader left; not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 141
    finally:
        sys.stdout, sys.stderr = out, err
