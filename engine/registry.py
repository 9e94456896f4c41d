"""Tables of plug-ins by name: strategies, scorers, policies and importers share this one shape.

A table maps a name to a dotted path, ``package.module:attribute``, imported on first use,
so a table costs nothing until one of its entries is asked for. A name the table lacks is
tried as a dotted path itself (``package.module:Class`` or ``package.module.Class``): a
user's own class plugs in without editing trajscope. A name that is neither ends in one
sentence that lists the table, so ``--help`` and error messages never keep a second list.

A key written ``prefix:<what>`` takes an argument: ``hf:<dir>`` matches ``hf:/models/x``
and hands ``/models/x`` on. An entry may also carry keyword options it is built with
(``"prune": ("...linear:Linear", {"prune": True})``).

Naming a dotted path runs that module's code, as ``python -m`` would: only names a person
gives (a command line, a config file) may be paths; callers that read names from elsewhere
(a run log, a socket) pass ``paths=False``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import MutableMapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Found:
    """What a name resolved to: the object, the argument after a prefix, and the entry's options."""

    obj: object
    arg: str | None = None
    options: dict = field(default_factory=dict)
    plugin: str | None = None  # the dotted path it was named by, when not by the table


def _split(path: str) -> tuple[str, str] | None:
    """(module, attribute) of ``module:attr`` or ``module.attr``; None when it is not one."""
    module, sep, attr = path.partition(":")
    if not sep:
        module, _, attr = path.rpartition(".")
    parts = module.split(".") + attr.split(".")
    return (module, attr) if all(part.isidentifier() for part in parts) else None


def _attribute(module_name: str, attr: str) -> object:
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def build(factory, *args, **offered):
    """``factory(*args, **kw)`` where ``kw`` is what of ``offered`` it names as a parameter: the
    table's entries and a user's class take what they need (a ``**kwargs`` takes none of it,
    as it may hand its keywords on to something that refuses them)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return factory(*args)
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return factory(*args, **{k: v for k, v in offered.items() if k in names})


def _entry(entry) -> tuple[str, dict]:
    return (entry, {}) if isinstance(entry, str) else (entry[0], dict(entry[1]))


class Registry(MutableMapping):
    """One kind of plug-in: ``kind`` names it in messages, ``error`` is what a bad name raises,
    ``other`` says what else a name may be (for a name the table lacks). As a mapping it is
    the table: name -> (dotted path, options); setting a name adds a line."""

    def __init__(self, kind: str, table: dict, error: type[Exception] = ValueError, other: str = "") -> None:
        self.kind, self.error, self.other = kind, error, other
        self._entries: dict[str, tuple[str, dict]] = {name: _entry(entry) for name, entry in table.items()}
        self._loaded: dict[str, object] = {}

    def __getitem__(self, name: str) -> tuple[str, dict]:
        return self._entries[name]

    def __setitem__(self, name: str, entry) -> None:
        self._entries[name] = _entry(entry)
        self._loaded.pop(name, None)

    def __delitem__(self, name: str) -> None:
        del self._entries[name]
        self._loaded.pop(name, None)

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self, last: str = "or") -> str:
        """The table's names as a sentence: ``a, b or c``."""
        names = list(self._entries)
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {last} {names[-1]}"

    def _match(self, name: str) -> tuple[str, str | None] | None:
        if name in self._entries and "<" not in name:
            return name, None
        for key in self._entries:
            prefix = key.partition("<")[0]
            if "<" in key and name.startswith(prefix) and len(name) > len(prefix):
                return key, name[len(prefix) :]
        return None

    def load(self, key: str) -> object:
        """The object of the table's entry ``key`` (imported once)."""
        if key not in self._loaded:
            self._loaded[key] = _attribute(*_split(self._entries[key][0]))
        return self._loaded[key]

    def make(self, found: Found, *args, **offered):
        """``build`` the object ``found``; a user's class that cannot be called so is one sentence."""
        try:
            return build(found.obj, *args, **offered)
        except TypeError as exc:
            if found.plugin is None:
                raise
            raise self.error(f"the {self.kind} {found.plugin!r} cannot be made: {exc}") from None

    def unknown(self, name: str, paths: bool = True) -> Exception:
        """The error for a name that is not in the table, listing what is."""
        choices = [
            *self._entries,
            *([self.other] if self.other else []),
            *([f"a class of your own as module:{self.kind.capitalize()}"] if paths else []),
        ]
        return self.error(f"unknown {self.kind} {name[:100]!r}: use {', '.join(choices[:-1])} or {choices[-1]}")

    def resolve(self, name: str, paths: bool = True) -> Found:
        """What ``name`` stands for: the table's entry, else (with ``paths``) a dotted path."""
        hit = self._match(name)
        if hit is not None:
            key, arg = hit
            return Found(self.load(key), arg, dict(self._entries[key][1]))
        split = _split(name) if paths else None
        if split is None:
            raise self.unknown(name, paths)
        module_name, attr = split
        try:
            return Found(_attribute(module_name, attr), plugin=name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                # the module itself is missing: a table name mistyped, or a module not on the path
                # (trajscope's own command does not look in the current folder)
                raise self.error(
                    f"{self.unknown(name)}; no module {exc.name} is on the Python path (add its folder to PYTHONPATH)"
                ) from None
            raise self.error(f"the {self.kind} {name!r} could not be imported: {exc}") from None
        except AttributeError:
            raise self.error(f"the {self.kind} {name!r} names nothing: module {module_name} has no {attr}") from None
        except Exception as exc:  # noqa: BLE001 - a user's module failing on import is one sentence too
            raise self.error(f"the {self.kind} {name!r} could not be imported: {type(exc).__name__}: {exc}") from None
