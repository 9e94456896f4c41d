"""The user's settings file: a theme and a keymap, so a person rebinds keys (a keyboard
layout, another tool's habits) and picks a theme once rather than on every command.

The file is TOML (``theme = "..."`` and a ``[keymap]`` table of binding id -> keys): its
strings are strings, where YAML reads ``on``, ``off`` or ``no`` (all keys one may bind) as
booleans. The keymap goes to Textual's ``App.set_keymap``, which ignores an id it does not
know; here an unknown id, an unknown key name or a key two bindings of one screen would
share is refused. A file is used whole or not at all: a bad one is one sentence naming the
file and the setting, and the app starts with its defaults.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from trajscope.themes import THEME_NAMES
from trajscope.tui.errors import UserError

ENV = "TRAJSCOPE_SETTINGS"
MAX_BYTES = 1 << 20
MODIFIERS = {"ctrl", "shift", "alt", "meta", "super", "hyper"}
# The packages whose classes hold BINDINGS; the app class is passed in (this module is below it).
BINDING_PACKAGES = ("trajscope.tui.screens", "trajscope.tui.widgets")


class SettingsError(UserError):
    """The settings file cannot be used; the message names the file and the setting."""


@dataclass(frozen=True)
class Settings:
    """What the settings file sets; the defaults where it sets nothing."""

    theme: str | None = None
    """A name from ``trajscope.themes.THEME_NAMES``; None leaves the choice to the default."""
    keymap: dict[str, str] = field(default_factory=dict)
    """Binding id -> keys, comma-separated, as ``App.set_keymap`` takes them."""


def settings_path() -> Path | None:
    """``$TRAJSCOPE_SETTINGS`` (set and empty: no file), else
    ``$XDG_CONFIG_HOME/trajscope/settings.toml`` (``~/.config`` when that is unset)."""
    named = os.environ.get(ENV)
    if named is not None:
        return Path(named).expanduser() if named else None
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "trajscope" / "settings.toml"


def load_settings(app_class: type) -> tuple[Settings, str | None]:
    """The settings, or the defaults and the one sentence that says why the file was not used."""
    try:
        return read_settings(app_class), None
    except SettingsError as exc:
        return Settings(), str(exc)


def env_theme() -> str | None:
    """``$TRAJSCOPE_THEME`` when it names a theme (it comes before the file's); one sentence
    on stderr and None when it names none."""
    name = os.environ.get("TRAJSCOPE_THEME") or None
    if name is not None and name not in THEME_NAMES:
        print(f"trajscope: TRAJSCOPE_THEME={name!r} is not one of {', '.join(THEME_NAMES)}; ignored", file=sys.stderr)
        return None
    return name


def read_settings(app_class: type) -> Settings:
    """The settings of the file ``settings_path`` names; SettingsError when it is bad. No
    file at the default place is no settings; a file that ``TRAJSCOPE_SETTINGS`` names must be there."""
    path = settings_path()
    if path is None:
        return Settings()
    data = _parse(path, required=os.environ.get(ENV) is not None)
    if data is None:
        return Settings()
    unknown = sorted(set(data) - {"theme", "keymap"})
    if unknown:
        raise SettingsError(f"{path}: unknown setting '{unknown[0]}' (the settings are theme and [keymap])")
    theme = data.get("theme")
    if theme is not None and theme not in THEME_NAMES:
        raise SettingsError(f"{path}: theme = {theme!r} is not one of {', '.join(THEME_NAMES)}")
    raw = data.get("keymap", {})
    if not isinstance(raw, dict):
        raise SettingsError(f'{path}: keymap must be a table ([keymap] with lines binding_id = "key")')
    keymap = _check_keymap(path, _flatten(path, raw), app_class)
    return Settings(theme=theme, keymap=keymap)


def _parse(path: Path, required: bool) -> dict | None:
    from trajscope.engine.jsonio import read_regular

    try:  # one open, checked on its descriptor: a FIFO swapped in after a stat could not hang a read
        raw = read_regular(path, MAX_BYTES)
    except FileNotFoundError:
        if required:
            raise SettingsError(f"{path} (named by {ENV}) does not exist") from None
        return None
    except OSError as exc:  # NotRegularFile too: a FIFO, a device, or over MAX_BYTES
        raise SettingsError(str(exc) if not exc.strerror else f"{path} cannot be read: {exc.strerror}") from None
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise SettingsError(f"{path}: reading a settings file needs Python 3.11 or the tomli package") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SettingsError(f"{path} is not UTF-8 text") from None
    except RecursionError:  # arrays or tables nested thousands deep: the parser recurses on each
        raise SettingsError(f"{path} is not a settings file: its values nest too deep to read") from None
    except Exception as exc:  # noqa: BLE001 - TOMLDecodeError, or whatever else the parser raises on bad text
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SettingsError(f"{path} is not valid TOML: {first}") from None


MAX_ID_PARTS = 8
"""Dotted parts a keymap id may have (``explorer.goto`` has two): deeper tables are no id."""


def _flatten(path: Path, table: dict, prefix: str = "", depth: int = 1) -> dict:
    """``explorer.goto = "x"`` unquoted is a nested table in TOML; it means the id ``explorer.goto``."""
    flat: dict = {}
    for key, value in table.items():
        if isinstance(value, dict):
            if depth >= MAX_ID_PARTS:  # 'a.a.a...' thousands deep would exhaust the recursion
                raise SettingsError(
                    f"{path}: [keymap] {prefix[:60]}... nests more than {MAX_ID_PARTS} dotted "
                    "parts; a binding id has a few, such as explorer.goto"
                )
            flat |= _flatten(path, value, f"{prefix}{key}.", depth + 1)
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _check_keymap(path: Path, raw: dict, app_class: type) -> dict[str, str]:
    known = binding_ids(app_class)
    keymap: dict[str, str] = {}
    for binding_id, value in raw.items():
        if binding_id not in known:
            near = difflib.get_close_matches(binding_id, known, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise SettingsError(
                f"{path}: [keymap] names an unknown binding id '{binding_id}'{hint} (`trajscope settings` lists them)"
            )
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = ",".join(value)
        if not isinstance(value, str):
            raise SettingsError(
                f'{path}: [keymap] {binding_id} must be a key string such as "ctrl+g" or a list of them'
            )
        keys = [normal_key(k) for k in value.split(",")]
        for key in keys:
            if not key_name_ok(key):
                raise SettingsError(
                    f"{path}: [keymap] {binding_id} = {value!r}: {key!r} is not a key name "
                    "(keys look like x, X, ctrl+x, f5, escape, question_mark)"
                )
        keymap[binding_id] = ",".join(keys)
    _check_clashes(path, keymap, app_class)
    return keymap


def normal_key(key: str) -> str:
    """A key as Textual names it: ``?`` is ``question_mark``, ``/`` is ``slash``."""
    from textual.keys import KEY_NAME_REPLACEMENTS

    key = key.strip()
    if len(key) == 1 and not key.isalnum():
        try:
            key = unicodedata.name(key).lower().replace("-", "_").replace(" ", "_")
        except ValueError:
            return key
        key = KEY_NAME_REPLACEMENTS.get(key, key)
    return key


def key_name_ok(key: str) -> bool:
    """Whether Textual can ever report ``key`` (``[modifier+]...name``); it binds any string
    silently, so a misspelt key would leave an action with no working key."""
    from textual.keys import REPLACED_KEYS, Keys, key_to_character

    *mods, base = key.split("+")
    if not base or any(c.isspace() for c in key) or any(m not in MODIFIERS for m in mods):
        return False
    if len(base) == 1:
        return base.isprintable()
    named = {k.value.rpartition("+")[2] for k in Keys if not k.value.startswith("<")}
    return base in named or key_to_character(REPLACED_KEYS.get(base, base)) is not None


def key_of(node, binding_id: str) -> str:
    """The first key of a binding as the screen shows it (``esc``, ``/``), as the user's keymap
    rebinds it, for hints such as "press / to search"; ``node`` holds the binding (or its app does)."""
    from textual.binding import Binding

    keys = node.app.settings.keymap.get(binding_id)
    if keys is None:
        owned = [
            b
            for cls in (*type(node).__mro__, *type(node.app).__mro__)
            for b in cls.__dict__.get("BINDINGS", [])
            if isinstance(b, Binding) and b.id == binding_id
        ]
        keys = owned[0].key
    return node.app.get_key_display(Binding(keys.split(",")[0].strip(), ""))


def binding_owners(app_class: type) -> list[type]:
    """The app class and every screen and widget class of trajscope that declares BINDINGS."""
    import pkgutil  # only a keymap check walks the packages

    owners = [app_class]
    for package_name in BINDING_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package_name}.{info.name}")
            owners += [
                obj
                for obj in vars(module).values()
                if isinstance(obj, type) and obj.__module__ == module.__name__ and "BINDINGS" in vars(obj)
            ]
    return owners


def owner_bindings(owner: type) -> list:
    """The bindings an owner has in Textual's terms, one per key: its own and those of its
    bases that it does not replace (a subclass's key replaces its base's on that key). Textual
    is pinned; its own merge is used so that the clash check sees what a key press would."""
    return [b for bindings in owner._merge_bindings().key_to_bindings.values() for b in bindings]


def binding_ids(app_class: type) -> list[str]:
    """Every binding id a keymap may name, in the order the classes declare them."""
    ids: dict[str, None] = {}
    for owner in binding_owners(app_class):
        ids |= {b.id: None for b in owner_bindings(owner) if b.id}
    return list(ids)


def _check_clashes(path: Path, keymap: dict[str, str], app_class: type) -> None:
    """Two actions of one screen or widget on one key, at least one of them rebound: Textual
    would keep one and drop the other without a word, and the help would list both."""
    if not keymap:
        return
    for owner in binding_owners(app_class):
        holders: dict[str, dict[str, str]] = {}  # key -> action -> who holds it (id or action)
        for b in owner_bindings(owner):
            keys = keymap[b.id].split(",") if b.id in keymap else [normal_key(b.key)]
            for key in keys:
                holders.setdefault(key, {})[b.action] = b.id or b.action
        for key, actions in holders.items():
            rebound = [who for who in actions.values() if who in keymap]
            # one id on several actions is one key with two faces (space: pause, or resume when paused)
            if len(set(actions.values())) > 1 and rebound:
                other = next(who for who in actions.values() if who != rebound[0])
                raise SettingsError(
                    f"{path}: [keymap] {rebound[0]} takes the key {key}, which {other} "
                    f"holds on {owner.__name__}; rebind that one too"
                )
