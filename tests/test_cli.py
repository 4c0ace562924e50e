"""The headless batch tagger as a user runs it: JSON lines, progress, per-file errors, nothing modified."""

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import JAZZ, METAL

ROOT = Path(__file__).resolve().parent.parent


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_cli(*args):
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True, cwd=ROOT, timeout=600
    )


def test_tag_json_prints_one_object_per_file_with_errors_inline_and_modifies_nothing(tmp_path):
    folder = tmp_path / "My Music — Ünïcödé"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(METAL, folder / "sub" / "metal.ogg")
    shutil.copy(JAZZ, folder / "jazz.ogg")
    (folder / "broken.mp3").write_bytes(b"\x00" * 1000)
    (folder / "cover.jpg").write_bytes(b"not audio and not an audio name")
    before = {p: digest(p) for p in folder.rglob("*") if p.is_file()}

    result = run_cli("tag", str(folder), "--json", "--device", "cpu")

    assert result.returncode == 1, result.stderr  # one file failed
    records = [json.loads(line) for line in result.stdout.splitlines()]
    by_name = {Path(r["path"]).name: r for r in records}
    assert set(by_name) == {"broken.mp3", "jazz.ogg", "metal.ogg"}
    assert by_name["broken.mp3"]["error"] and by_name["broken.mp3"]["error_type"] == "AudioLoadError"
    metal, jazz = by_name["metal.ogg"], by_name["jazz.ogg"]
    # Calibrated families; the style hint says what kind of rock.
    assert {g["label"] for g in metal["genres"][:2]} == {"Electronic", "Rock"}
    assert metal["styles"][0]["label"] == "Metal"
    assert metal["styles"][0]["family"] == "Rock"  # the family the style refines
    assert metal["style"] == {"label": "Metal", "family": "Rock"}  # the hint the app and list show
    assert metal["energy"] > 7 and metal["valence"] < 0
    assert {m["label"] for m in jazz["moods"][:3]} >= {"Happy", "Chill"}
    assert jazz["confident"]["mood"] and jazz["notes"] == ["no confident genre"]
    assert jazz["style"] is None  # no style hint without a confident genre
    assert abs(metal["duration_s"] - 12.0) < 0.05
    for record in (metal, jazz):
        assert set(record["tags"]) == {"MSD_musicnn", "MTT_musicnn"}
        assert all(len(tags) == 50 for tags in record["tags"].values())
        assert len(record["genres"]) <= 3 and len(record["moods"]) <= 3
        assert all(0.1 <= g["score"] <= 1 for g in record["genres"] + record["moods"])
        assert 1 <= record["energy"] <= 10 and -1 <= record["valence"] <= 1
    # The progress line: done/total, rate, and where it runs (library mode's int8 or the full precision).
    assert re.search(r"CPU \(\d+ threads?\), (int8|fp32|bf16): +\d+%.*\| 3/3 .*track", result.stderr)
    assert "Traceback" not in result.stderr
    assert {p: digest(p) for p in folder.rglob("*") if p.is_file()} == before


def test_tag_options_pick_the_model_and_the_number_of_labels():
    result = run_cli(
        "tag", str(METAL), "--json", "--model", "MTT_musicnn", "--top", "1", "--min-score", "0", "--quiet"
    )
    assert result.returncode == 0, result.stderr
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert list(record["tags"]) == ["MTT_musicnn"]
    # With one tagger the calibrated heads (which read both) cannot run: styles and descriptors remain.
    assert record["genres"] == [] and record["moods"] == [] and "energy" not in record
    assert len(record["styles"]) == 1 and len(record["descriptors"]) == 1
    assert result.stderr == ""


def test_human_output_and_clear_errors_for_bad_arguments():
    ok = run_cli("tag", str(METAL), "--quiet", "--device", "cpu")
    assert ok.returncode == 0 and "genres: Electronic" in ok.stdout and "energy: " in ok.stdout
    # The confident labels (those a write takes) are marked as in the app; the metal excerpt's Electronic is.
    assert re.search(r"genres: Electronic 0\.\d\d ✓", ok.stdout), ok.stdout
    # The style the models hear, with the family it refines and no score (a raw tag's: a hint).
    assert re.search(r"✓  style: Metal \(Rock\)  moods: ", ok.stdout), ok.stdout
    bad_model = run_cli("tag", str(METAL), "--model", "no_such_model")
    assert (
        bad_model.returncode == 2
        and "no_such_model" in bad_model.stderr
        and "Traceback" not in bad_model.stderr
    )
    missing = run_cli("tag", "/no/such/folder", "--json", "--quiet")
    assert missing.returncode == 1 and json.loads(missing.stdout)["error"] == "no such file or folder"


def test_a_malformed_user_vocabulary_stops_a_write_with_the_entry_named(tmp_path):
    import os

    folder = tmp_path / "music"
    folder.mkdir()
    shutil.copy(JAZZ, folder / "jazz.ogg")
    before = digest(folder / "jazz.ogg")
    config = Path(os.environ["MUSICTAGGER_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "vocabulary.json").write_text(
        json.dumps({"labels": [{"name": "Dark", "category": "moody", "sources": {"dj_moods": ["Dark"]}}]})
    )
    result = run_cli("tag", "--write", str(folder), "--quiet", "--device", "cpu")
    assert result.returncode == 2, result.stderr
    assert "labels[0] ('Dark')" in result.stderr and "Traceback" not in result.stderr
    assert digest(folder / "jazz.ogg") == before
