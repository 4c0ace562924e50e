"""The library commands as a DJ runs them: scan, dry run, write, query, export, undo."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import DATA, METAL

from musictagger.tags import read_tags

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, db):
    env = {**os.environ, "MUSICTAGGER_DB": str(db)}
    command = [sys.executable, str(ROOT / "main.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_scan_write_query_export_and_undo(tmp_path):
    music = tmp_path / "Music"
    music.mkdir()
    for name in ("tagged.flac", "tagged_id3v23.mp3", "tagged_aac.m4a"):
        shutil.copy(DATA / "formats" / name, music / name)
    shutil.copy(METAL, music / "metal.ogg")
    (music / "broken.mp3").write_text("not audio")
    db = tmp_path / "index.sqlite"
    originals = {p.name: read_tags(p) for p in music.iterdir() if p.name != "broken.mp3"}
    before = digests(music)

    scanned = run_cli("scan", str(music), "--quiet", db=db)
    assert scanned.returncode == 1  # the broken file is reported, the rest is indexed and analysed
    assert "4 added" in scanned.stderr and "broken.mp3: not an audio file" in scanned.stderr
    assert "analysed 4 tracks" in scanned.stderr
    rescanned = run_cli("scan", str(music), "--quiet", db=db)
    assert "4 unchanged" in rescanned.stderr and "analysed 0 tracks" in rescanned.stderr

    dry = run_cli("tag", str(music), "--dry-run", "--policy", "replace", "--comment-block", db=db)
    assert (
        "genre: Death Metal → Metal" in dry.stdout
        or "genre: (none) → Metal" in dry.stdout
        or "Metal" in dry.stdout
    )
    assert digests(music) == before  # a dry run writes nothing

    wrote = run_cli("tag", str(music), "--write", "--policy", "replace", "--comment-block", "--quiet", db=db)
    assert "4 files written" in wrote.stderr, wrote.stderr
    metal = read_tags(music / "metal.ogg")
    assert metal["genre"][0] == "Metal"
    flac = read_tags(music / "tagged.flac")
    assert flac["comment"][0].startswith("1A - Energy 6 [")  # the Mixed-In-Key comment survives
    assert flac["title"] == originals["tagged.flac"]["title"]

    listed = run_cli("list", "--genre", "metal", "--json", db=db)  # any spelling of a label works
    assert [Path(json.loads(line)["path"]).name for line in listed.stdout.splitlines()] == ["metal.ogg"]
    playlist = tmp_path / "metal.m3u8"
    run_cli("export", str(playlist), "--genre", "Metal", db=db)
    lines = playlist.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == str(music / "metal.ogg")

    undone = run_cli("undo", db=db)
    assert undone.returncode == 0 and "4 files restored" in undone.stderr
    assert {p.name: read_tags(p) for p in music.iterdir() if p.name != "broken.mp3"} == originals
    assert run_cli("undo", db=db).returncode == 2  # nothing left to undo: said clearly, no traceback
