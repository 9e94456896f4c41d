import subprocess
import sys

from tests.conftest import ROOT


def test_importing_engine_imports_no_ui_library():
    code = (
        "import sys, engine, engine.tree, engine.events, engine.formats, engine.actions\n"
        "bad = [m for m in ('textual', 'rich', 'tui') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
