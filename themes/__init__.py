"""trajscope's Textual themes and shared stylesheet.

Domain colours are theme variables (``$reward-high``, ``$node-pruned``, ...), so TCSS
and the tree's component classes use them and code never names a colour.

``PALETTES`` is the one place a theme is named: the command line's ``--theme`` choices,
the app's theme registration, the settings file's check and the README's list all read it.
This module imports no Textual (the command line reads the names on every start, and
Textual costs a fifth of a second to import); ``textual_themes`` builds the Theme objects.
"""

from __future__ import annotations

from pathlib import Path

STYLESHEET = Path(__file__).with_name("trajscope.tcss")

# Defaults for the domain variables, so any built-in Textual theme still works.
DOMAIN_DEFAULTS = {
    "reward-high": "#4caf50",
    "reward-mid": "#d7a33c",
    "reward-low": "#e05d5d",
    "node-pruned": "#6b6f76",
    "node-promoted": "#c792ea",
    "node-running": "#4fc1ff",
    "node-failed": "#ff5370",
    "node-submitted": "#82aaff",
    "kind-critical": "#ffcb6b",
    "node-id": "#7f8c98",
}

# name -> the arguments of textual.theme.Theme; the first is the default.
PALETTES: dict[str, dict] = {
    "trajscope-dark": dict(
        primary="#82aaff",
        secondary="#c792ea",
        accent="#ffcb6b",
        foreground="#d6deeb",
        background="#0f1419",
        surface="#161c23",
        panel="#1f2731",
        success="#7fd962",
        warning="#ffcb6b",
        error="#ff5370",
        dark=True,
        variables=dict(DOMAIN_DEFAULTS),
    ),
    "trajscope-light": dict(
        primary="#2457b5",
        secondary="#7b3fa8",
        accent="#a15c00",
        foreground="#1f2328",
        background="#fafafa",
        surface="#f0f1f3",
        panel="#e3e6ea",
        success="#1a7f37",
        warning="#9a6700",
        error="#cf222e",
        dark=False,
        variables={
            "reward-high": "#1a7f37",
            "reward-mid": "#9a6700",
            "reward-low": "#cf222e",
            "node-pruned": "#8c959f",
            "node-promoted": "#8250df",
            "node-running": "#0969da",
            "node-failed": "#cf222e",
            "node-submitted": "#2457b5",
            "kind-critical": "#a15c00",
            "node-id": "#6e7781",
        },
    ),
}

THEME_NAMES = tuple(PALETTES)
DEFAULT_THEME = THEME_NAMES[0]


def textual_themes() -> list:
    """The themes as Textual Theme objects, in ``THEME_NAMES`` order, for ``App.register_theme``."""
    from textual.theme import Theme

    # A copy of the variables each time: two apps in one process never share a mutable dict.
    return [
        Theme(name=name, **{**palette, "variables": dict(palette["variables"])}) for name, palette in PALETTES.items()
    ]
