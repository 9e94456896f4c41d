"""The end of an engine step in a container's long-lived shell (no Docker needed: the frames
as the exec's socket delivers them). Output is kept byte for byte up to the step's random
marker, wherever the socket cuts it; anything that is not the loop's answer ends the shell."""

from __future__ import annotations

from trajscope.engine.sandbox.container import Sink
from trajscope.engine.sandbox.engine_shell import EngineShell

MARK = b"0123456789abcdef0123456789abcdef"


class _Raw:
    def __init__(self):
        self.sent = b""

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def shutdown(self, _how) -> None:
        pass

    def close(self) -> None:
        pass


def _exchange(chunks: list[bytes], limit: int | None = None) -> tuple[int | None, Sink]:
    shell = object.__new__(EngineShell)
    shell.sock = shell.raw = _Raw()
    shell.frames = iter([(1, c) for c in chunks])
    shell.alive = True
    sink, result = Sink(limit=limit), [None]
    shell._exchange(b"script", MARK, sink, result)
    return result[0], sink


def _cut(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_output_is_kept_exactly_up_to_the_marker_wherever_the_socket_cuts_it():
    # the output holds most of the marker and a fake status: only the whole marker ends it
    out = b"pack\x00bytes " + MARK[:-1] + b"000 tail" + bytes(range(256))
    answer = out + MARK + b"004" + b"the changed files hold too much\n" + MARK
    for size in (1, 7, 31, 32, 33, 4096):
        code, sink = _exchange(_cut(answer, size))
        assert code == 4 and bytes(sink.out) == out
        assert sink.error_line() == "the changed files hold too much"


def test_output_past_the_bound_is_dropped_and_the_step_still_ends():
    answer = b"x" * 10_000 + MARK + b"000" + MARK
    code, sink = _exchange(_cut(answer, 1000), limit=100)
    assert code == 0 and sink.over and len(sink.out) <= 100


def test_anything_after_the_answer_or_a_shell_that_stops_ends_the_shell():
    assert _exchange([b"out" + MARK + b"000" + MARK + b"more"])[0] is None
    assert _exchange([b"out" + MARK + b"0"])[0] is None  # the socket closed mid-answer
    assert _exchange([b"out" + MARK + b"xyz" + MARK])[0] is None
    assert _exchange([b"out" + MARK + b"000" + b"e" * 9000])[0] is None  # stderr is 4 KiB at most


def test_a_name_that_is_not_utf_8_is_a_sandbox_error_not_a_crash():
    # A tool call's path may hold a lone surrogate (JSON allows "\udcff"): the step fails with
    # the sandbox's error, which marks the node failed, never an exception nothing catches.
    import pytest

    from trajscope.engine.sandbox.base import SandboxError

    shell = object.__new__(EngineShell)
    shell.sock = shell.raw = _Raw()
    shell.alive = True
    with pytest.raises(SandboxError, match="not valid UTF-8"):
        shell.run("cat -- 'a\udcff.py'", Sink(), 5)
    assert shell.raw.sent == b"", "nothing went to the container"
