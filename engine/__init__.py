"""trajscope's headless core: the event-sourced trajectory tree, importers and search.

Nothing in this package imports a UI library (textual, rich or tui); a test checks it.
"""

__version__ = "0.1.0"
