"""The command line's options mapped onto a ``SearchSpec`` (engine/spec.py): the one place
where an argparse Namespace becomes the record a search is started from.

Precedence, lowest first: the command's defaults, the settings a resumed log recorded, a
``--config`` file, the options named on the command line. Options a command lacks (``--pace``
on ``search``) keep the spec's default, or what the log or the file says.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dataclasses import Field

    from trajscope.engine.spec import SearchSpec


def spec_help(name: str, more: str = "", spec_field: Field | None = None) -> str:
    """The help of the option of spec field ``name``: the field's ``doc`` (engine/spec.py,
    engine/session.py: one source, so the two cannot disagree), then ``more`` (what a table
    offers), then the default as the parser holds it when help is shown, so a command that
    sets its own defaults (demo) shows those."""
    if spec_field is None:
        from trajscope.engine.spec import FIELDS

        spec_field = FIELDS[name]
    doc = spec_field.metadata["doc"]
    text = (f"{doc}; {more}" if more else doc).replace("%", "%%")
    return text if spec_field.default is None else f"{text} (default: %(default)s)"


def add_spec_options(p: argparse.ArgumentParser) -> None:
    """``--config``, and a command-line option for every field of the spec that has none yet:
    a strategy option added to the spec (with its ``doc``) is an option here too. A bool field
    is a flag pair (--x / --no-x); a table (DARS's limits) is set in a config file only."""
    p.add_argument(
        "--config",
        metavar="FILE",
        help="search settings in a TOML or YAML file, keys as the options' names (max_nodes = 60); "
        "options given here win",
    )
    from dataclasses import MISSING, fields

    from trajscope.engine.search.config import SearchConfig

    for f in fields(SearchConfig):
        flag = "--" + f.name.replace("_", "-")
        if flag in p._option_string_actions or "doc" not in f.metadata or f.default is MISSING:
            continue
        if isinstance(f.default, bool):  # type=bool would read "--x False" as True
            kind = {"action": argparse.BooleanOptionalAction}
        else:
            kind = {"type": type(f.default) if f.default is not None else str}
        p.add_argument(
            flag, default=f.default, choices=f.metadata.get("choices"), help=spec_help(f.name, spec_field=f), **kind
        )


def spec_from_args(args: argparse.Namespace, resume: Path | None = None, say: bool = True) -> SearchSpec:
    """The spec ``args`` describe; ``resume``: the log whose recorded settings come before the
    defaults (an option given here that changes one of them is said on stderr, in one line,
    unless ``say`` is false: a batch says it for its first log only)."""
    from trajscope.engine.launch import recorded_settings
    from trajscope.engine.spec import FIELDS, SearchSpec, read_config

    values = {name: getattr(args, name) for name in FIELDS if hasattr(args, name)}
    given = getattr(args, "given", None)
    given = set(values) if given is None else given & set(values)
    spec = SearchSpec().updated({k: v for k, v in values.items() if k not in given}, "the defaults")
    recorded = recorded_settings(resume) if resume is not None else None
    if recorded:
        spec = spec.updated(recorded, f"the settings {resume} recorded")
    config_path = getattr(args, "config", None)
    from_file = read_config(config_path) if config_path else {}
    if from_file:
        spec = spec.updated(from_file, str(config_path))
    spec = spec.updated({k: values[k] for k in given}, "the command line")
    if recorded:
        _check_what_a_log_may_choose(recorded, resume, given | set(from_file))
    if recorded and say:
        _say_overrides(spec, recorded, resume, set(from_file) | given)
    from trajscope.engine.redact import register

    register(spec.api_key)  # a key from the config file is cut out of every line, as one given here is
    return spec


# What a log (a file that may come from someone else) may not choose for the person resuming it:
# where commands run unconfined, and where requests, keys and data go or what is loaded from disk.
# Each must be named again (command line or config file) to resume with it.
_ENDPOINTS = ("model", "teacher", "judge", "api_base")


def _check_what_a_log_may_choose(recorded: dict, log: Path, named: set[str]) -> None:
    from trajscope.engine.spec import SearchSpec, SpecError

    if recorded.get("sandbox") == "none" and "sandbox" not in named:
        raise SpecError(
            f"{log} was recorded running commands unconfined (--sandbox none), which a log "
            "cannot choose: name --sandbox none, or another sandbox, to resume it"
        )
    defaults = SearchSpec()
    asked = [
        f"--{name.replace('_', '-')} {shlex.quote(str(recorded[name]))[:120]}"
        for name in _ENDPOINTS
        if name in recorded and name not in named and recorded[name] != getattr(defaults, name)
    ]
    prm = recorded.get("prm")
    if isinstance(prm, str) and ":" in prm and "prm" not in named:  # hf:<dir>, vllm:<url>, rubric:<model>
        asked.append(f"--prm {shlex.quote(prm)[:120]}")
    if asked:
        raise SpecError(
            f"{log} was recorded with {' '.join(asked)}; a log cannot choose the models, servers "
            "or checkpoints a search sends your keys and code to or loads: name them again to resume"
        )


def _say_overrides(spec: SearchSpec, recorded: dict, log: Path, named: set[str]) -> None:
    changed = [
        f"{name} {getattr(spec, name)!r} (recorded {recorded[name]!r})"
        for name in sorted(named)
        if name in recorded and getattr(spec, name) != recorded[name]
    ]
    if changed:
        print(
            f"trajscope: resuming with the settings {log} recorded, except {', '.join(changed)} given here",
            file=sys.stderr,
        )


def given_options(parser: argparse.ArgumentParser, argv: list[str]) -> frozenset[str]:
    """The options ``argv`` names (not their defaults): ``parser`` parsed again with every
    default suppressed, so only what the command line says lands in the namespace."""
    _suppress_defaults(parser)
    return frozenset(vars(parser.parse_args(argv)))


def _suppress_defaults(parser: argparse.ArgumentParser) -> None:
    parser._defaults.clear()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _suppress_defaults(sub)
        else:
            action.default = argparse.SUPPRESS
