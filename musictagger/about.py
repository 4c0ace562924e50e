"""What Help ▸ About says (and ``--version`` could): name, version, licence, third-party notices. Qt-free."""

from __future__ import annotations

import re
from collections import Counter
from importlib import metadata
from pathlib import Path

from musictagger import __version__
from musictagger.paths import resources_dir

APP_NAME = "musictagger"
LICENCE = "GPL-3.0-or-later"
LICENCE_FILE = "LICENSE"
NOTICES_FILE = "THIRD_PARTY_NOTICES.md"
# Licence families named in the summary, in the order they are looked for in a package's licence.
_FAMILIES = (
    "LGPL",
    "GPL",
    "MPL",
    "Apache",
    "BSD",
    "MIT",
    "ISC",
    "PSF",
    "Python Software Foundation",
    "NVIDIA",
)


def shipped_file(name: str) -> Path | None:
    """LICENSE or THIRD_PARTY_NOTICES.md: beside resources/ (checkout, PyInstaller bundle), else in the
    installed package's metadata (a wheel's ``licenses/``); None when neither has it."""
    beside = resources_dir().parent / name
    if beside.is_file():
        return beside
    try:
        distribution = metadata.distribution(APP_NAME)
    except metadata.PackageNotFoundError:
        return None
    for file in distribution.files or []:
        if file.name == name:
            path = Path(distribution.locate_file(file))
            if path.is_file():
                return path
    return None


def notices_summary(text: str) -> str:
    """One sentence on THIRD_PARTY_NOTICES.md: how many models and packages, under which licences."""
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    models = _table_rows(next((s for s in sections if s.startswith("Model weights")), ""))
    packages = _table_rows(next((s for s in sections if s.startswith("Python packages")), ""))
    families: Counter[str] = Counter()
    for row in packages:
        licence = row[2] if len(row) > 2 else ""
        family = next((f for f in _FAMILIES if f.lower() in licence.lower()), "other")
        families["PSF" if family == "Python Software Foundation" else family] += 1
    named = ", ".join(f"{family} {count}" for family, count in families.most_common())
    musicnn = [row[0] for row in models if row and "musicnn" in row[0].lower()]
    parts = [
        f"{len(models)} models" + (f" (the musicnn weights, {', '.join(musicnn)}: ISC)" if musicnn else "")
    ]
    parts.append(f"{len(packages)} Python packages" + (f" ({named})" if named else ""))
    return "Third-party software: " + " and ".join(parts) + ", each under its own licence."


def _table_rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return rows[1:]  # the header row


def about_text() -> str:
    """Plain text for the About box: app, version, licence and warranty lines, third-party summary."""
    lines = [
        f"{APP_NAME} {__version__}",
        "Genre and mood tags for a music library, from the audio itself.",
        "",
        f"Licence: GNU General Public License, version 3 or (at your option) any later version ({LICENCE}).",
        # One line per paragraph: the About box wraps them to its width.
        "This program comes with ABSOLUTELY NO WARRANTY; it is free software, and you are welcome to "
        "redistribute it under the conditions of that licence.",
    ]
    licence = shipped_file(LICENCE_FILE)
    lines.append(
        f"The licence's full text: {licence}" if licence else "The licence's full text: see LICENSE."
    )
    lines.append("")
    notices = shipped_file(NOTICES_FILE)
    if notices is None:
        lines.append(f"Third-party notices: {NOTICES_FILE} was not found with this installation.")
    else:
        lines.append(notices_summary(notices.read_text(encoding="utf-8")))
        lines.append(f"Every name, version, licence and homepage: {notices}")
    return "\n".join(lines)
