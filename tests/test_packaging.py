"""Packaging files: the PyInstaller spec names real paths, the desktop entry is valid, the icons load."""

import ast
import configparser
import os
import shutil
import subprocess
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "resources" / "icons"


def _spec_tree() -> ast.Module:
    return ast.parse((PACKAGING / "musictagger.spec").read_text(encoding="utf-8"))


def _call(tree: ast.Module, name: str) -> ast.Call:
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name]
    assert len(calls) == 1, f"one {name}(...) expected"
    return calls[0]


def _root_relative(node: ast.AST) -> Path:
    """ROOT / "a" / "b" in the spec → the repository's a/b."""
    parts = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        parts.insert(0, node.right.value)
        node = node.left
    assert isinstance(node, ast.Name) and node.id == "ROOT"
    return ROOT.joinpath(*parts)


def test_spec_parses_and_names_existing_paths():
    tree = _spec_tree()
    analysis = _call(tree, "Analysis")
    script = _root_relative(analysis.args[0].elts[0].args[0])
    assert script == ROOT / "main.py" and script.is_file()
    keywords = {k.arg: k.value for k in analysis.keywords}
    pairs = [
        (target.value, _root_relative(source.args[0]))
        for source, target in (t.elts for t in keywords["datas"].elts)
    ]
    datas = {target: path for target, path in pairs if target != "."}
    assert set(datas) == {"models", "resources", "musictagger/library/migrations"}
    assert all(path.is_dir() for path in datas.values())
    # The licence and the notices at the bundle's root, beside resources/ (musictagger/about.py).
    at_root = {path for target, path in pairs if target == "."}
    assert at_root == {ROOT / "LICENSE", ROOT / "THIRD_PARTY_NOTICES.md"}
    assert all(path.is_file() for path in at_root)
    assert (datas["resources"] / "vocabulary.json").is_file()
    # Where db.py looks for them at run time, relative to the bundle root as to the checkout.
    from musictagger.library.db import MIGRATIONS_DIR

    migrations = datas["musictagger/library/migrations"]
    assert migrations == MIGRATIONS_DIR and MIGRATIONS_DIR.relative_to(ROOT).as_posix() in datas
    assert (migrations / "env.py").is_file() and list((migrations / "versions").glob("0001_*.py"))
    exe = {k.arg: k.value for k in _call(tree, "EXE").keywords}
    assert _root_relative(exe["icon"].args[0]).is_file()


def test_spec_names_the_app_and_excludes_tensorflow_and_tests():
    tree = _spec_tree()
    constants = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert ast.literal_eval(constants["APP_NAME"]) == "musictagger"
    excludes = ast.literal_eval(constants["EXCLUDES"])
    assert {"tensorflow", "tests", "pytest"} <= set(excludes)


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(PACKAGING / "musictagger.desktop", encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_has_the_required_keys():
    entry = _desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "musictagger"
    assert entry["Exec"].split()[0] == "musictagger"
    assert entry["Icon"] == "musictagger" and (ICONS / "musictagger.svg").is_file()
    assert entry["Categories"] == "AudioVideo;Audio;"
    mime = entry["MimeType"].rstrip(";").split(";")
    assert {"audio/mpeg", "audio/flac", "audio/ogg", "audio/mp4"} <= set(mime)
    assert all(m.startswith("audio/") for m in mime)


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_entry_validates():
    result = subprocess.run(
        ["desktop-file-validate", str(PACKAGING / "musictagger.desktop")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_icons_exist_and_load_with_qt(qapp):
    # The suite's one QApplication (conftest.qapp): a QGuiApplication made here would be the process's
    # only one, and every widget test after this file would fail on it.
    from PySide6.QtGui import QImage
    from PySide6.QtSvg import QSvgRenderer

    png = QImage(str(ICONS / "musictagger.png"))
    assert not png.isNull() and (png.width(), png.height()) == (256, 256)
    assert png.pixelColor(128, 128).alpha() == 255  # the tile is opaque; the corners are not
    assert png.pixelColor(0, 0).alpha() == 0
    svg = QSvgRenderer(str(ICONS / "musictagger.svg"))
    assert svg.isValid() and svg.defaultSize().width() == 256
