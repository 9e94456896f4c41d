import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.subprocess


def test_importing_every_engine_module_imports_no_ui_library():
    modules = sorted(
        "trajscope." + ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "engine").rglob("*.py")
    )
    assert len(modules) > 40 and "trajscope.engine.session" in modules and "trajscope.engine.sandbox.docker" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = [m for m in ('textual', 'rich', 'trajscope.tui') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
