"""``python -m trajscope``: the same as the ``trajscope`` command."""

from trajscope.tui.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
