"""trajscope's Textual themes and shared stylesheet.

Domain colours are theme variables (``$reward-high``, ``$node-pruned``, ...), so TCSS
and the tree's component classes use them and code never names a colour.
"""

from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

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

DARK = Theme(
    name="trajscope-dark",
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
)

LIGHT = Theme(
    name="trajscope-light",
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
)

THEMES = (DARK, LIGHT)
