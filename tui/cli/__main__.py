"""``python -m trajscope.tui.cli``: the same as the ``trajscope`` command."""

import sys

from trajscope.tui.cli import main

sys.exit(main())
