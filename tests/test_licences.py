"""The licence and the third-party notices: GPL-3.0 text unchanged, every shipped package and model named."""

import hashlib
import importlib.util
import re
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from musictagger import __version__
from musictagger.about import about_text, notices_summary, shipped_file

ROOT = Path(__file__).resolve().parent.parent
LICENSE = ROOT / "LICENSE"
NOTICES = ROOT / "THIRD_PARTY_NOTICES.md"
# sha256 of the FSF's gpl-3.0.txt (https://www.gnu.org/licenses/gpl-3.0.txt), as Debian ships it.
GPL3_SHA256 = "3972dc9744f6499f0f9b2dbf76696f2ae7ad8af9b23dde66d6af86c9dfb36986"


def load_tool():
    """tools/third_party_notices.py as a module (tools/ is not a package)."""
    path = ROOT / "tools" / "third_party_notices.py"
    spec = importlib.util.spec_from_file_location("third_party_notices", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def notice_rows(section: str) -> dict[str, list[str]]:
    """The notices' table under ``## section``: first cell (canonical name) → cells."""
    text = NOTICES.read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("|") and not line.startswith("|---")]
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[1:]]
    return {canonicalize_name(c[0]): c for c in cells}


def test_the_licence_is_the_gpl_3_text_unchanged():
    text = LICENSE.read_text(encoding="utf-8")
    first, second = (line.strip() for line in text.strip().splitlines()[:2])
    assert (first, second) == ("GNU GENERAL PUBLIC LICENSE", "Version 3, 29 June 2007")
    assert hashlib.sha256(LICENSE.read_bytes()).hexdigest() == GPL3_SHA256


def test_every_requirement_is_in_the_notices_with_its_pinned_version():
    tool = load_tool()
    packages = notice_rows("Python packages")
    roots = tool.requirement_roots(ROOT / "requirements.txt")
    assert len(roots) >= 15
    for requirement in roots:
        row = packages.get(canonicalize_name(requirement.name))
        assert row is not None, f"{requirement.name} is missing from THIRD_PARTY_NOTICES.md"
        pinned = {s.version for s in requirement.specifier if s.operator == "=="}
        assert not pinned or row[1] in pinned, f"{requirement.name}: notices say {row[1]}, pinned {pinned}"
        assert row[2], f"{requirement.name} has no licence in the notices"


@pytest.mark.skipif(sys.platform != "linux", reason="the notices list the Linux closure")
def test_every_package_the_requirements_pull_in_is_in_the_notices():
    tool = load_tool()
    installed = {canonicalize_name(p.name) for p in tool.packages(tool.requirement_roots())}
    assert installed - set(notice_rows("Python packages")) == set(), "run tools/third_party_notices.py"


def test_the_musicnn_weights_are_credited_under_isc():
    models = notice_rows("Model weights")
    for name in ("msd-musicnn", "mtt-musicnn"):
        assert models[name][1] == "ISC"
        assert "Jordi Pons" in models[name][2] and "Xavier Serra" in models[name][2]
    assert set(models) == {canonicalize_name(p.name) for p in (ROOT / "models").iterdir() if p.is_dir()}


def test_about_names_the_version_the_licence_and_the_notices():
    text = about_text()
    assert text.startswith(f"musictagger {__version__}\n")
    assert "GNU General Public License, version 3 or (at your option) any later version" in text
    assert str(shipped_file("LICENSE")) in text and shipped_file("LICENSE") == LICENSE
    assert str(NOTICES) in text
    count = len(notice_rows("Python packages"))
    assert f"{count} Python packages" in text and "ISC" in text


def test_notices_summary_counts_models_and_licence_families():
    text = (
        "# Third-party notices\n\n## Model weights\n\n| model | licence | origin |\n|---|---|---|\n"
        "| MSD_musicnn | ISC | Pons |\n\n## Python packages\n\n"
        "| package | version | licence | homepage |\n|---|---|---|---|\n"
        "| a | 1 | MIT | x |\n| b | 2 | BSD-3-Clause | y |\n| c | 3 | MIT | z |\n"
    )
    summary = notices_summary(text)
    assert "1 models (the musicnn weights, MSD_musicnn: ISC)" in summary
    assert "3 Python packages (MIT 2, BSD 1)" in summary
