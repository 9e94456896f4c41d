"""``trajscope sandbox``: build the base Docker image, or remove leftover sandboxes."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub) -> None:
    p = sub.add_parser("sandbox", help="build the base Docker image, or remove leftover sandboxes")
    p.add_argument("action", choices=["build-image", "clean"])
    p.add_argument("--tag", default="trajscope/base:1")
    p.add_argument("--method", choices=["auto", "dockerfile", "debootstrap"], default="auto")
    p.add_argument("--mirror", help="Debian mirror for debootstrap")
    p.add_argument("--force", action="store_true", help="rebuild even when the image is there")


def run(args: argparse.Namespace) -> int:
    if args.action == "build-image":
        from trajscope.engine.sandbox.image import build_image

        build_image(
            args.tag,
            method=args.method,
            force=args.force,
            mirror=args.mirror,
            say=lambda line: print(f"trajscope: {line}", file=sys.stderr),
        )
        return 0
    from trajscope.engine.sandbox import docker as docker_sandbox
    from trajscope.engine.sandbox import local

    reaped = local.reap_leftovers()
    available, why = docker_sandbox.docker_available()
    if available:
        reaped += docker_sandbox.reap_leftovers()
    print(
        f"removed {reaped} leftover sandbox{'es' if reaped != 1 else ''}"
        + ("" if available else f" (Docker skipped: {why})")
    )
    return 0
