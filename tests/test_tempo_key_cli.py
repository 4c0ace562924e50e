"""tag --json prints tempo and key (or why not); tag --write writes them under the fill policy, undoably."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from conftest import DATA, JAZZ

from musictagger.tags import read_tags

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, db=None):
    env = dict(os.environ)
    if db is not None:
        env["MUSICTAGGER_DB"] = str(db)
    command = [sys.executable, str(ROOT / "main.py"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


def test_tag_json_has_bpm_and_key_in_three_notations_or_the_reason(tmp_path):
    folder = tmp_path / "Music"
    folder.mkdir()
    shutil.copy(JAZZ, folder / "jazz.ogg")  # 20 s at about 130 BPM
    shutil.copy(DATA / "formats" / "untagged.wav", folder / "short.wav")  # 3.5 s
    sf.write(folder / "silence.wav", np.zeros(30 * 44100, dtype=np.float32), 44100)

    result = run_cli("tag", folder, "--json", "--device", "cpu", "--quiet")

    assert result.returncode == 1, result.stderr  # the silent file is an error
    assert result.stderr == ""  # essentia's own console log stays off
    records = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    jazz, short, silence = records["jazz.ogg"], records["short.wav"], records["silence.wav"]
    assert 124.8 <= jazz["bpm"] <= 135.2 and jazz["bpm"] == round(jazz["bpm"], 1)
    assert (jazz["key"], jazz["camelot"], jazz["open_key"]) == ("E major", "12B", "5d")
    assert jazz["bpm_reason"] is None and jazz["key_reason"] is None
    assert 0 < jazz["bpm_confidence"] <= 1 and 0 < jazz["key_confidence"] <= 1
    # Long enough for the taggers' one patch, too short for a tempo or key: tags, and the reason.
    assert short["genres"] and short["bpm"] is None and short["key"] is None
    assert short["camelot"] is None and short["open_key"] is None
    assert short["bpm_reason"].startswith("too short (3.5 s") and short["key_reason"].startswith("too short")
    # Silence has nothing to tag at all: one error, no made-up genre, tempo or key.
    assert silence == {
        "path": str(folder / "silence.wav"),
        "error": "silent (digital silence): nothing to tag",
        "error_type": "NothingToTag",
    }

    human = run_cli("tag", JAZZ, "--device", "cpu", "--quiet")
    assert human.returncode == 0 and "bpm: 1" in human.stdout and "key: E major (12B)" in human.stdout


def test_tag_json_says_when_tempo_and_key_are_turned_off(tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.toml").write_text("[analysis]\ntempo_key = false\n", encoding="utf-8")
    monkeypatch.setenv("MUSICTAGGER_CONFIG_DIR", str(config))
    result = run_cli("tag", JAZZ, "--json", "--device", "cpu", "--quiet", "--model", "MTT_musicnn")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["bpm"] is None and "tempo_key = false" in record["bpm_reason"]


def test_tag_write_fills_the_key_keeps_the_files_bpm_and_undo_restores_it(tmp_path):
    folder = tmp_path / "Music"
    folder.mkdir()
    shutil.copy(JAZZ, folder / "jazz.ogg")  # tagged BPM=130.000000, no key
    before = read_tags(folder / "jazz.ogg")
    assert before["bpm"] == ["130.000000"] and "key" not in before
    db = tmp_path / "index.sqlite"

    dry = run_cli("tag", folder, "--dry-run", "--device", "cpu", "--quiet", db=db)
    assert dry.returncode == 0, dry.stderr
    assert "key: (none) → E" in dry.stdout and "bpm:" not in dry.stdout  # fill: the file's BPM stays
    assert read_tags(folder / "jazz.ogg") == before
    options = ("--bpm-policy", "replace", "--key-notation", "camelot")
    other = run_cli("tag", folder, "--dry-run", *options, "--device", "cpu", "--quiet", db=db)
    assert other.returncode == 0, other.stderr
    assert "bpm: 130.000000 → 130" in other.stdout and "key: (none) → 12B" in other.stdout

    wrote = run_cli("tag", folder, "--write", "--device", "cpu", "--quiet", db=db)
    assert wrote.returncode == 0, wrote.stderr
    after = read_tags(folder / "jazz.ogg")
    assert after["key"] == ["E"] and after["bpm"] == ["130.000000"]  # "E": E major as Rekordbox spells it

    undone = run_cli("undo", db=db)
    assert undone.returncode == 0, undone.stderr
    assert read_tags(folder / "jazz.ogg") == before
