"""The search spec: everything a search is started with, as one typed, versioned record
(docs/architecture.md section 5).

What crosses a process boundary (a batch worker, a Ray actor, a served search), what
``--resume`` reads back from a run log and what a ``--config`` file sets is this record as
JSON, never an argparse Namespace. ``SearchSpec`` extends ``SearchConfig`` (the strategy and
its options, which strategies read as ``session.config``), so a strategy option is one field
there and the JSON, the config-file key and the command-line option follow from it. Secrets
(``api_key``) stay out of what is recorded: ``to_json`` leaves them out unless asked.
"""

from __future__ import annotations

import copy
import math
import re
import reprlib
import types
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from trajscope.engine.errors import UserCausedError
from trajscope.engine.search.budget import Budget
from trajscope.engine.search.select import SELECTORS
from trajscope.engine.search.config import SearchConfig

VERSION = 1
"""The spec's JSON shape; ``from_json`` refuses another."""
SECRETS = frozenset({"api_key"})
"""Fields never recorded (the run log, a JSON result): a key given to a search stays in memory."""
MAX_CONFIG = 1 << 20  # bytes of a config file read at most
MAX_WORKERS = 256
"""Workers of one search at most: each is a thread and a sandbox, all started at once."""


class SpecError(UserCausedError, ValueError):
    """A spec that cannot start a search: an unknown setting or a bad value, in one sentence."""


def _doc(default, doc: str, choices: tuple | None = None):
    """A field with its documentation (and the values it may take) kept beside it."""
    meta = {"doc": doc} | ({"choices": choices} if choices else {})
    return field(default=default, metadata=meta)


@dataclass
class SearchSpec(SearchConfig):
    """A search's settings. The strategy and its options are SearchConfig's fields (strategy,
    max_depth, timeout, samples, k, expand_temperature, prune_m, prune_b, critic,
    refine_rounds, limits, after); the rest are here."""

    # -- budget: the search ends at the first limit reached (None: no limit) ---------------
    max_nodes: int = _doc(60, "nodes the search may add")
    max_tokens: int | None = _doc(None, "tokens (in and out) the policy may use")
    max_cost: float | None = _doc(None, "dollars the policy may spend")
    max_time: float | None = _doc(None, "seconds of wall time")
    # -- policy: what proposes the actions -------------------------------------------------
    model: str = _doc("demo", "a litellm model string, or demo for the scripted demo policy")
    api_base: str | None = _doc(None, "the model server's URL")
    api_key: str | None = _doc(None, "the API key (a secret: never recorded; default: the provider's variable)")
    temperature: float = _doc(0.0, "the policy's sampling temperature for ordinary steps")
    tool_mode: str = _doc(
        "auto", "function calling (tools), the fenced-bash text format (text), or auto", ("auto", "tools", "text")
    )
    seed: int = _doc(0, "the seed of the policy, the search and tournament voting")
    teacher: str | None = _doc(None, "DAgger: a teacher model mixed with model (the student)")
    beta: float = _doc(0.5, "DAgger: the chance the teacher acts at a turn")
    pace: float = _doc(0.0, "seconds a demo-policy step takes (for live demos)")
    # -- scorers ---------------------------------------------------------------------------
    prm: str = _doc("builtin", "scorers, comma-separated (engine/prm/registry.py names them), or none")
    device: str | None = _doc(None, "where the PRM runs: cpu, cuda or mps (default: the best there is)")
    # -- where the commands run ------------------------------------------------------------
    sandbox: str = _doc(
        "auto", "auto, docker, local, or none (UNCONFINED, only by name)", ("auto", "docker", "local", "none")
    )
    workers: int = _doc(1, "rollouts at once, one sandbox each")
    # -- selection of the patch ------------------------------------------------------------
    select: str = _doc(
        "auto",
        "how the patch is chosen: the agent's own checks (tests: reproduction tests passed, then visible "
        "tests not broken, then behaviour-cluster size, then the judge when one is given, then the PRM), "
        "PRM score, an LLM judge, or tournament voting; auto is tests with a model and prm with the demo policy",
        ("auto", *SELECTORS),
    )
    judge: str | None = _doc(
        None, "the model that judges for select judge|rtv (default: model), and breaks ties for select tests"
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_type(f.name, getattr(self, f.name))
        try:
            super().__post_init__()
        except UserCausedError:
            raise
        except ValueError as exc:
            raise SpecError(str(exc)) from None
        for f in fields(self):
            choices = f.metadata.get("choices") or _CHOICES.get(f.name)
            if choices and getattr(self, f.name) not in choices:
                raise SpecError(f"{f.name} must be one of {', '.join(choices)}, not {_short(getattr(self, f.name))}")
        for name in ("workers", "samples", "k", "prune_m", "prune_b", "max_nodes", "max_depth", "max_tokens"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise SpecError(f"{_flag(name)} must be at least 1, not {getattr(self, name)}")
        for f in fields(self):  # NaN passes every comparison: a NaN budget would never end a search
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise SpecError(f"{_flag(f.name)} must be a finite number, not {value}")
        for name in ("timeout", "max_time"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise SpecError(f"{_flag(name)} must be more than 0 seconds, not {getattr(self, name)}")
        for name in ("max_cost", "pace", "temperature", "expand_temperature", "refine_rounds", "repro_tests"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise SpecError(f"{_flag(name)} must be at least 0, not {getattr(self, name)}")
        if not 0.0 <= self.beta <= 1.0:
            raise SpecError(f"--beta is a chance, between 0 and 1, not {self.beta}")
        if self.workers > MAX_WORKERS:
            raise SpecError(f"--workers is at most {MAX_WORKERS} (one sandbox and one thread each), not {self.workers}")
        if self.device is not None and not re.fullmatch(r"cpu|mps|cuda(:\d{1,3})?", self.device):
            raise SpecError(f"--device is cpu, cuda, cuda:N or mps, not {_short(self.device)}")

    # -- JSON --------------------------------------------------------------------------------
    def to_json(self, secrets: bool = False) -> dict:
        """The spec as JSON: ``version`` and every field, without ``api_key`` unless ``secrets``
        (only for handing a search to a worker process, never for a file)."""
        out = {"version": VERSION}
        for f in fields(self):
            if f.name not in SECRETS or secrets:
                out[f.name] = copy.deepcopy(getattr(self, f.name))
        return out

    @classmethod
    def from_json(cls, data, where: str = "the search spec") -> SearchSpec:
        """The spec ``data`` holds (fields it lacks keep their defaults); SpecError, naming
        ``where``, for an unknown key, a value of the wrong type or one out of range."""
        return cls().updated(data, where)

    def updated(self, data, where: str = "the settings") -> SearchSpec:
        """This spec with the fields ``data`` names set (checked as ``from_json`` does)."""
        if not isinstance(data, dict):
            raise SpecError(f"{where} must be a mapping of settings, not {type(data).__name__}")
        data = dict(data)
        version = data.pop("version", VERSION)
        if version != VERSION:
            raise SpecError(f"{where} is a search spec of version {version!r}; this trajscope reads version {VERSION}")
        unknown = sorted(str(k) for k in data if k not in FIELDS)
        if unknown:
            raise SpecError(
                f"{where}: unknown setting {unknown[0]!r} (the settings are the search options' names, "
                f"e.g. max_nodes; `trajscope search --help` lists them)"
            )
        for name, value in data.items():  # a mapping (DARS's limits) changes the kinds it names, keeps the rest
            if isinstance(value, dict) and isinstance(getattr(self, name), dict):
                data[name] = getattr(self, name) | value
        try:
            return replace(self, **data)
        except SpecError as exc:
            raise SpecError(f"{where}: {exc}") from None

    # -- what a search is built from ----------------------------------------------------
    def search_config(self) -> SearchConfig:
        """The strategy's part, as strategies read it (``session.config``); ``select tests`` turns
        the checks on, as it ranks by them."""
        config = SearchConfig(**{f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(SearchConfig)})
        config.checks = config.checks or self.selector_name() == "tests"
        return config

    def selector_name(self) -> str:
        """The selection ``select`` names: ``auto`` is tests with a model, prm with the demo policy."""
        if self.select != "auto":
            return self.select
        return "prm" if self.model == "demo" else "tests"

    def budget(self) -> Budget:
        return Budget(nodes=self.max_nodes, tokens=self.max_tokens, cost=self.max_cost, wall_s=self.max_time)

    def scorer_names(self) -> list[str]:
        return [] if self.prm == "none" else self.prm.split(",")


FIELDS = {f.name: f for f in fields(SearchSpec)}
_CHOICES = {"critic": ("prm", "llm", "first")}  # SearchConfig's own field, checked here
_HINTS = typing.get_type_hints(SearchSpec)


def _flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def _check_type(name: str, value) -> None:
    """SpecError unless ``value`` is of the field's type (an int passes for a float; a bool
    is not a number, only a yes-or-no field takes one; dicts are checked one level down, as limits and after are shaped)."""
    hint = _HINTS[name]
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    allowed = tuple(typing.get_origin(a) or a for a in allowed)
    if value is None and type(None) in allowed:
        return
    ok = isinstance(value, allowed) and (not isinstance(value, bool) or bool in allowed)
    if isinstance(value, int) and not isinstance(value, bool) and float in allowed:
        ok = True
    if not ok:
        words = " or ".join("null" if a is type(None) else a.__name__ for a in allowed)
        raise SpecError(f"{name} must be {words}, not {type(value).__name__} {_short(value)}")
    if isinstance(value, dict):
        for key, entry in value.items():
            if not isinstance(key, str):
                raise SpecError(f"{name}: each key is a kind of step (a string), not {_short(key)}")
            if not _dict_value_ok(name, entry):
                raise SpecError(f"{name}.{key[:60]} must be {_DICT_VALUES.get(name, 'a value')}, not {_short(entry)}")


_DICT_VALUES = {"limits": "a whole number, at least 0", "after": "a list of kinds of step (strings)"}


def _dict_value_ok(name: str, value) -> bool:
    if name == "limits":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if name == "after":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return True


_REPR = reprlib.Repr()  # its bounds are attributes before Python 3.12
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict = 2, 60, 60, 4, 4


def _short(value) -> str:
    """A value from a file or a log, shown bounded: however deep or long it is, one short line."""
    return _REPR.repr(value)


# -- config files ------------------------------------------------------------------------------
def read_config(path: str | Path) -> dict:
    """The settings a ``--config`` file holds (TOML, or YAML), keys as the spec's field names
    (``max-nodes`` is read as ``max_nodes``); SpecError for a file that cannot be one."""
    from trajscope.engine.jsonio import read_regular

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise SpecError(f"{path}: a config file is TOML (.toml) or YAML (.yaml, .yml)")
    try:
        raw = read_regular(path, MAX_CONFIG)
    except FileNotFoundError:
        raise SpecError(f"the config file {path} does not exist") from None
    except OSError as exc:
        raise SpecError(f"the config file {path} cannot be read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
        data = _toml(text) if suffix == ".toml" else _yaml(text)
    except SpecError:
        raise
    except Exception as exc:  # noqa: BLE001 - each parser has its own errors; all are the file's fault
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SpecError(f"{path} is not valid {'TOML' if suffix == '.toml' else 'YAML'}: {first}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(f"{path} must hold a mapping of settings (max_nodes = 60 ...), not a {type(data).__name__}")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def _toml(text: str):
    try:
        import tomllib
    except ImportError:  # Python 3.10: tomli where it is installed
        try:
            import tomli as tomllib
        except ImportError:
            raise SpecError(
                "reading a TOML config file needs Python 3.11 or the tomli package; or write the config in YAML"
            ) from None
    return tomllib.loads(text)


def _yaml(text: str):
    import yaml

    return yaml.safe_load(text)
