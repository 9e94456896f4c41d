"""One base class for the errors a user can cause: the command line catches that one class, so
a new kind of user error is one sentence and exit code 2 without editing ``main``."""

from __future__ import annotations

import pytest

from trajscope.engine.analysis.report import AnalysisError
from trajscope.engine.errors import UserCausedError
from trajscope.engine.files import LogBusy, WriteError
from trajscope.engine.formats import FormatError
from trajscope.engine.formats.export import ExportError
from trajscope.engine.policy.base import PolicyError
from trajscope.engine.prm.base import ScorerError
from trajscope.engine.sandbox.base import PathOutsideRepo, SandboxError
from trajscope.engine.swebench import HarnessError
from trajscope.engine.tasks import TaskError
from trajscope.tui.errors import UserError

OLD_NAMES = (
    UserError,
    FormatError,
    TaskError,
    SandboxError,
    PathOutsideRepo,
    PolicyError,
    ScorerError,
    AnalysisError,
    WriteError,
    LogBusy,
    ExportError,
    HarnessError,
)


@pytest.mark.parametrize("cls", OLD_NAMES, ids=lambda c: c.__name__)
def test_every_user_error_is_one_kind(cls):
    assert issubclass(cls, UserCausedError)


def test_a_write_error_is_still_an_os_error():
    """Callers that catch OSError around a write keep catching a refused one."""
    assert issubclass(WriteError, OSError)
    assert str(WriteError("a link at out.jsonl; nothing was written")) == "a link at out.jsonl; nothing was written"


class _NewKind(UserCausedError):
    """A user error main's old closed list did not name."""


@pytest.mark.parametrize(
    "exc",
    [
        _NewKind("the new kind of input is wrong"),
        HarnessError("the harness has no test spec for x"),
        ExportError("there is no node 'n9'"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_main_prints_any_user_error_as_one_sentence(exc, monkeypatch, capsys):
    from trajscope.tui import cli

    def fail(args):
        raise exc

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["stats"].set_defaults(func=fail)
    assert cli.main(["stats", "whatever.jsonl"]) == 2
    err = capsys.readouterr().err
    assert err == f"trajscope: {exc}\n"
