"""The project's own documentation (issue 13): README links the docs/ folder, and every
relative link in README.md and docs/ points at a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_readme_links_each_docs_page():
    """README.md links docs/README.md, the CLI, wsctl.toml, protocol and emulator pages, and
    tells the reader to activate the environment."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in ("docs/README.md", "docs/cli.md", "docs/wsctl-toml.md", "docs/protocol.md",
                 "docs/emulator.md"):  # fmt: skip
        assert f"]({page})" in readme, page
    assert "source .venv/bin/activate" in readme
    assert "DESIGN" not in readme  # users do not have the design notes


def test_every_relative_link_resolves():
    """No link in README.md or docs/*.md points at a missing file."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name}: {target}"
