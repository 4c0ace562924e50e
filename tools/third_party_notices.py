"""Write THIRD_PARTY_NOTICES.md: the shipped model weights and every Python package that ships with
musictagger (the installed closure of requirements.txt), with version, licence and homepage.

    .venv/bin/python tools/third_party_notices.py            # rewrite THIRD_PARTY_NOTICES.md
    .venv/bin/python tools/third_party_notices.py --check    # exit 1 when the file is out of date

Reads the environment it runs in (``importlib.metadata``): run it with the project's venv after changing
requirements.txt. The closure follows each package's ``Requires-Dist`` whose environment markers hold
here (Linux x86_64 / Python 3.11 for the shipped venv), extras included where a parent asks for them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
NOTICES = ROOT / "THIRD_PARTY_NOTICES.md"
MODELS = ROOT / "models"
URL_LABELS = (
    "homepage",
    "home",
    "home-page",
    "repository",
    "source",
    "source code",
    "github",
    "documentation",
)


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    licence: str
    homepage: str
    required_by: tuple[str, ...]
    native_libraries: tuple[str, ...]
    bundled_licences: tuple[str, ...]


def requirement_roots(path: Path = REQUIREMENTS) -> list[Requirement]:
    """The requirements a file names (comments, blank lines and pip options skipped)."""
    roots = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            roots.append(Requirement(line))
    return roots


def _applies(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    environment = default_environment()
    return any(requirement.marker.evaluate({**environment, "extra": extra}) for extra in extras | {""})


def closure(roots: list[Requirement]) -> dict[str, tuple[metadata.Distribution, set[str]]]:
    """Every installed distribution the roots need: canonical name → (distribution, who requires it)."""
    found: dict[str, tuple[metadata.Distribution, set[str]]] = {}
    extras: dict[str, set[str]] = {}
    pending: list[tuple[Requirement, str]] = [(r, "requirements.txt") for r in roots]
    while pending:
        requirement, parent = pending.pop()
        key = canonicalize_name(requirement.name)
        if not _applies(requirement, extras.get(canonicalize_name(parent), set())):
            continue
        try:
            distribution = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"{requirement.name} (required by {parent}) is not installed here") from None
        new_extras = set(requirement.extras) - extras.get(key, set())
        seen = key in found
        found.setdefault(key, (distribution, set()))[1].add(parent)
        extras.setdefault(key, set()).update(requirement.extras)
        if seen and not new_extras:
            continue
        for text in distribution.requires or []:
            pending.append((Requirement(text), distribution.metadata["Name"]))
    return found


def licence_of(meta) -> str:
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return expression
    declared = (meta.get("License") or "").strip()
    if declared and "\n" not in declared and len(declared) <= 80 and declared.upper() != "UNKNOWN":
        return declared
    classifiers = [
        c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License :: ")
    ]
    if classifiers:
        return " / ".join(dict.fromkeys(classifiers))
    if declared and declared.upper() != "UNKNOWN":
        return declared.splitlines()[0].strip()[:80]
    return "see the package's licence files"


def homepage_of(meta) -> str:
    if meta.get("Home-page"):
        return meta["Home-page"].strip()
    urls = {}
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        urls.setdefault(label.strip().lower(), url.strip())
    for label in URL_LABELS:
        if urls.get(label):
            return urls[label]
    return next(iter(urls.values()), "")


def native_libraries_of(distribution: metadata.Distribution) -> tuple[str, ...]:
    """Shared libraries auditwheel vendored into the wheel (``<name>.libs/``), hash suffixes dropped."""
    names = set()
    for file in distribution.files or []:
        if file.parent.name.endswith(".libs") and ".so" in file.name:
            stem = file.name.split(".so")[0]
            names.add(re.sub(r"([-.][0-9a-f]{8})+$", "", stem))
    return tuple(sorted(names))


def bundled_licences_of(distribution: metadata.Distribution) -> tuple[str, ...]:
    """Licence files the package ships outside its metadata (a bundled library's), with their title."""
    found = []
    for file in distribution.files or []:
        in_metadata = any(part.endswith((".dist-info", ".egg-info")) for part in file.parts)
        if in_metadata or not re.match(r"(COPYING|LICEN[CS]E)", file.name, re.IGNORECASE):
            continue
        try:
            text = Path(distribution.locate_file(file)).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        title = next((line.strip() for line in text.splitlines() if line.strip()), "")
        found.append(f"{file.as_posix()} ({title[:70]})" if title else file.as_posix())
    return tuple(sorted(found))


def packages(roots: list[Requirement] | None = None) -> list[Package]:
    found = closure(requirement_roots() if roots is None else roots)
    result = []
    for distribution, parents in found.values():
        meta = distribution.metadata
        result.append(
            Package(
                name=meta["Name"],
                version=distribution.version,
                licence=licence_of(meta),
                homepage=homepage_of(meta),
                required_by=tuple(sorted(parents, key=str.lower)),
                native_libraries=native_libraries_of(distribution),
                bundled_licences=bundled_licences_of(distribution),
            )
        )
    return sorted(result, key=lambda p: canonicalize_name(p.name))


def model_rows(models: Path = MODELS) -> list[tuple[str, str, str]]:
    """(name, licence, origin) of each shipped model and head, from its card."""
    rows = []
    for folder in sorted(p for p in models.iterdir() if p.is_dir()):
        card_path = next((folder / n for n in ("card.json", "head.json") if (folder / n).is_file()), None)
        if card_path is None:
            continue
        card = json.loads(card_path.read_text(encoding="utf-8"))
        provenance = card.get("provenance") or {}
        origin = "; ".join(
            str(provenance[k]) for k in ("authors", "paper", "source") if provenance.get(k)
        ) or str(card.get("description", ""))
        rows.append((card.get("name", folder.name), str(card.get("licence", "unknown")), origin))
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(found: list[Package], models: list[tuple[str, str, str]]) -> str:
    lines = [
        "# Third-party notices",
        "",
        "musictagger is free software under the GNU General Public License, version 3 or (at your option)",
        "any later version (`LICENSE`). It ships, or installs beside it, the works below under their own",
        "licences. Generated by `tools/third_party_notices.py` from the installed environment",
        f"(Python {sys.version_info.major}.{sys.version_info.minor}, {sys.platform}); do not edit by hand.",
        "",
        "## Model weights",
        "",
        "| model | licence | origin |",
        "|---|---|---|",
    ]
    lines += [f"| {_cell(n)} | {_cell(lic)} | {_cell(o)} |" for n, lic, o in models]
    lines += [
        "",
        "The musicnn weights (MSD_musicnn, MTT_musicnn) are © Jordi Pons and Xavier Serra, released under",
        "the ISC licence with the musicnn package (https://github.com/jordipons/musicnn), converted to",
        "safetensors by `tools/convert_musicnn.py`. The heads were trained by musictagger on research",
        "datasets; they contain weights only, no audio.",
        "",
        "## Python packages",
        "",
        f"{len(found)} packages: the requirements in `requirements.txt` and everything they require. Each",
        "package's full licence text is in its installed metadata (`<name>-<version>.dist-info/`).",
        "",
        "| package | version | licence | homepage |",
        "|---|---|---|---|",
    ]
    lines += [f"| {_cell(p.name)} | {p.version} | {_cell(p.licence)} | {_cell(p.homepage)} |" for p in found]
    native = [p for p in found if p.native_libraries or p.bundled_licences]
    if native:
        lines += [
            "",
            "## Native code inside the packages",
            "",
            "Libraries the wheels' builders vendored (auditwheel's `<package>.libs/`) and licence files a",
            "package ships for code it bundles. Their licences are their upstream projects' (several are",
            "LGPL or GPL-2.0-or-later). The NVIDIA CUDA packages above (nvidia-*, cuda-*) are under",
            "NVIDIA's own licences; they come with PyTorch's CUDA build, and a CPU-only PyTorch needs none.",
            "",
        ]
        for p in native:
            parts = []
            if p.native_libraries:
                parts.append("vendored " + ", ".join(p.native_libraries))
            if p.bundled_licences:
                parts.append("licence files " + "; ".join(p.bundled_licences))
            lines.append(f"- {p.name}: " + "; ".join(parts))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is out of date")
    parser.add_argument("--output", type=Path, default=NOTICES)
    args = parser.parse_args(argv)
    text = render(packages(), model_rows())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if current != text:
            print(f"{args.output} is out of date: run tools/third_party_notices.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
