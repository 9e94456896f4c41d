"""The README and docs/ stay true for a user of the project: every relative link leads to
a file in the repository, and nothing points outside it (a user has no ../shared)."""

from __future__ import annotations

import re

from tests.conftest import ROOT

LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)|`(\.\./[^`]+)`")


def test_docs_link_only_inside_the_repository():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert (ROOT / "docs" / "architecture.md") in pages and (ROOT / "docs" / "security.md") in pages
    for page in pages:
        for match in LINK.finditer(page.read_text(encoding="utf-8")):
            target = match.group(1) or match.group(2)
            if re.match(r"[a-z]+://", target):
                continue
            path = (page.parent / target).resolve()
            assert path.is_relative_to(ROOT), f"{page.name} points outside the repository: {target}"
            assert path.exists(), f"{page.name} links to {target}, which is not there"


def test_docstrings_cite_the_architecture_in_the_repository():
    for source in [*ROOT.glob("engine/**/*.py"), *ROOT.glob("tui/**/*.py")]:
        text = source.read_text(encoding="utf-8")
        assert "DESIGN" not in text, f"{source.relative_to(ROOT)} cites a design document users do not have"
