"""``trajscope settings``: where the settings file is read from, whether it is good, and the
binding ids its ``[keymap]`` may rebind (the ids are the code's, so this is where a user reads them)."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "settings",
        help="check the settings file (theme, keymap) and list the keys it can rebind",
        description="Reads the settings file (TRAJSCOPE_SETTINGS, else $XDG_CONFIG_HOME/trajscope/settings.toml, "
        "else ~/.config/trajscope/settings.toml), says what is wrong with it in one sentence (exit 2), "
        "or prints the theme and every binding id with its key as the file leaves it.",
    )
    p.add_argument("--path", action="store_true", help="print only where the settings file is read from")


def run(args: argparse.Namespace) -> int:
    from trajscope.themes import DEFAULT_THEME, THEME_NAMES
    from trajscope.tui.settings import binding_owners, owner_bindings, read_settings, settings_path

    path = settings_path()
    if args.path:
        print(path if path is not None else "none (TRAJSCOPE_SETTINGS is set and empty)")
        return 0
    from trajscope.tui.app import TrajscopeApp

    settings = read_settings(TrajscopeApp)  # a bad file: SettingsError, one sentence, exit 2
    state = "none" if path is None else f"{path} ({'read' if path.exists() else 'absent: the defaults'})"
    print(f"settings file: {state}")
    print(f"theme: {settings.theme or DEFAULT_THEME} (themes: {', '.join(THEME_NAMES)})")
    print("binding id                   key(s)                what it does")
    listed: set[str] = set()
    for owner in binding_owners(TrajscopeApp):
        for binding in owner_bindings(owner):
            if not binding.id or binding.id in listed:
                continue
            listed.add(binding.id)
            same = [b for b in owner_bindings(owner) if b.id == binding.id]  # one id, one key or two faces
            keys = settings.keymap.get(binding.id, ",".join(dict.fromkeys(b.key for b in same)))
            mark = " (rebound)" if binding.id in settings.keymap else ""
            does = " / ".join(dict.fromkeys(b.description or b.action for b in same))
            print(f"{binding.id:<28} {keys:<21} {does}{mark}")
    return 0
