"""Full-page screenshots of browser tests, under the repository's var/screenshots/ (git-ignored)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page

from tests.livestack import ROOT

SCREENSHOTS = ROOT / "var" / "screenshots"
FAILURES = SCREENSHOTS / "failures"


def shot(page: Page, name: str, *, folder: Path = SCREENSHOTS) -> Path:
    """Save the whole page as var/screenshots/<name>.png; its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
