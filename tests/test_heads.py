"""Heads on the musicnn embeddings: trained on a dataset or a library, cross-validated, saved, run by tag."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import JAZZ, METAL
from mutagen.flac import FLAC

from musictagger.audio import load_audio
from musictagger.errors import ModelError

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = {"genre_gtzan": "genre", "mood_quadrants": "mood"}


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env=env,
    )


def cut_clips(source: Path, folder: Path, seconds: float = 3.0) -> list[Path]:
    """Real music cut into short clips: a labelled set made of the test excerpts."""
    audio = load_audio(source, sample_rate=16000)
    step = int(seconds * 16000)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(len(audio) // step):
        path = folder / f"{source.stem[:10]}_{i}.wav"
        sf.write(path, audio[i * step : (i + 1) * step], 16000)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def clip_set(tmp_path_factory):
    """A folder-per-label dataset: 4 metal clips and 6 jazz clips of 3 s."""
    root = tmp_path_factory.mktemp("heads") / "genres"
    cut_clips(METAL, root / "metal")
    cut_clips(JAZZ, root / "jazz")
    return root


def test_train_head_cross_validates_before_saving_and_tag_runs_the_saved_head(clip_set, tmp_path):
    result = run_cli(
        "train-head", "my_genres", "--dataset", f"folder:{clip_set}", "--device", "cpu", "--quiet"
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # The numbers come from cross-validation, said as such, with an interval; then where it was saved.
    assert "cross-validation" in out and "95% CI" in out
    assert "calibration error (ECE) " in out  # the head is calibrated, and says how well
    accuracy = float(out.split("accuracy")[1].split()[0])
    assert accuracy >= 0.9  # metal and jazz clips are easy to tell apart from their embeddings
    saved = Path(out.strip().splitlines()[-1].removeprefix("saved to "))
    assert (saved / "head.json").is_file() and (saved / "weights.safetensors").is_file()
    card = json.loads((saved / "head.json").read_text())
    assert card["labels"] == ["jazz", "metal"] and card["task"] == "multiclass"
    assert card["metrics"]["n"] == 10 and "cross-validation" in card["metrics"]["protocol"]
    assert card["calibration"]["method"].startswith("temperature scaling")

    # `tag` now runs the user's head beside the shipped ones, on whole tracks it never saw whole.
    tagged = run_cli("tag", str(METAL), str(JAZZ), "--json", "--quiet", "--device", "cpu")
    assert tagged.returncode == 0, tagged.stderr
    records = {Path(r["path"]).name: r for r in map(json.loads, tagged.stdout.splitlines())}
    metal, jazz = records[METAL.name]["heads"]["my_genres"], records[JAZZ.name]["heads"]["my_genres"]
    assert metal["metal"] > 0.5 > jazz["metal"]
    assert abs(sum(metal.values()) - 1) < 1e-4


def test_dry_run_saves_nothing_and_a_label_below_the_folds_is_cross_validated_leave_one_out(
    clip_set, tmp_path
):
    # Two folders of a label with too few clips for 5 folds: leave-one-out instead, said in the protocol.
    small = tmp_path / "small"
    cut_clips(METAL, small / "metal")
    cut_clips(JAZZ, small / "jazz")
    for extra in sorted((small / "metal").iterdir())[2:]:
        extra.unlink()
    result = run_cli(
        "train-head", "tiny", "--dataset", str(small), "--dry-run", "--json", "--quiet", "--device", "cpu"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["saved"] is None
    assert (
        report["protocol"].startswith("nested leave-one-track-out")
        or "leave-one-track-out" in report["protocol"]
    )
    assert report["n"] == 8
    assert not list((Path(os.environ["MUSICTAGGER_DATA_DIR"]) / "models").glob("tiny*"))


def test_head_from_the_library_learns_the_users_own_labels_and_reviews_win(tmp_path, analyzer, vocabulary):
    from musictagger.head_training.build import train_head
    from musictagger.head_training.sources import library_tracks
    from musictagger.library import open_library
    from musictagger.library.review import set_review
    from musictagger.library.scanner import scan
    from musictagger.library.schema import Track
    from musictagger.library.store import analyse_pending

    folder = tmp_path / "music"
    clips = cut_clips(METAL, folder / "a") + cut_clips(JAZZ, folder / "b")
    # The user's own genre names, as their files carry them (FLAC, real Vorbis comments).
    for clip in clips:
        flac = clip.with_suffix(".flac")
        sf.write(flac, sf.read(clip)[0], 16000)
        clip.unlink()
        tags = FLAC(flac)
        tags["GENRE"] = "Peak Time" if "/a/" in str(flac) else "warm-up"
        tags.save()
    with open_library(tmp_path / "lib.sqlite") as library:
        scan(library, [str(folder)])
        report = analyse_pending(library, analyzer, vocabulary)
        assert not report.errors
        with library.session() as session:
            tracks = library_tracks(session, "genre", ["MSD_musicnn", "MTT_musicnn"])
            assert sorted(set(tracks.label_names())) == ["Peak Time", "warm-up"]
            assert len(tracks.paths) == 10
            # The user corrects one jazz clip to "Warm-Up" in the app: one label, case-insensitively.
            jazz_track = session.query(Track).filter(Track.path.like("%/b/%")).first()
            set_review(session, [jazz_track.id], "genre", ["Warm-Up"], "edited")
            session.commit()
            tracks = library_tracks(session, "genre", ["MSD_musicnn", "MTT_musicnn"])
        assert len(tracks.label_names()) == 2
    result = train_head(tracks, name="dj", category="genre", inputs=["MSD_musicnn", "MTT_musicnn"], folds=4)
    assert result.card.metrics["accuracy"] >= 0.9
    assert result.card.provenance["tracks_per_label"] == {"Peak Time": 4, "warm-up": 6}
    # Calibrated like the shipped heads (temperature scaling from the out-of-fold predictions), and the
    # calibration error reported before and after, cross-fitted.
    assert result.card.calibration["method"].startswith("temperature scaling")
    errors = result.card.metrics["calibration_error"]
    assert 0 <= errors["after"] <= 1 and 0 <= errors["before"] <= 1


def test_shipped_heads_carry_cross_validated_numbers_and_run_by_default(analyzer):
    from musictagger.heads import available_heads, load_head

    assert set(SHIPPED) <= set(available_heads())
    for name, category in SHIPPED.items():
        _, card = load_head(name)
        assert card.category == category and card.task == "multiclass"
        metrics = card.metrics
        assert "cross-validation" in metrics["protocol"]
        lo, hi = metrics["accuracy_ci"]
        assert lo < metrics["accuracy"] < hi or metrics["accuracy"] == hi
        assert "shared/eval" in card.provenance["source"]
    # The calibrated heads behind the written genres and moods, and energy / valence.
    for name in ("dj_moods", "genres"):
        _, card = load_head(name)
        assert card.multilabel and card.calibration["method"].startswith("Platt")
        assert set(card.thresholds) == set(card.labels)
        assert card.metrics["ece_written"] <= 0.05
        assert "artist-disjoint" in card.metrics["protocol"]
    _, energy = load_head("energy_valence")
    assert energy.task == "regression" and energy.ranges == {"energy": (1.0, 10.0), "valence": (-1.0, 1.0)}
    assert energy.metrics["arousal_accuracy"] >= 0.85 and energy.metrics["valence_accuracy"] >= 0.75
    _, mood = load_head("mood_quadrants")
    assert set(mood.labels) == {"angry/tense", "calm/relaxed", "happy/excited", "sad/depressed"}
    assert "artist-disjoint" in mood.metrics["protocol"]
    _, genre = load_head("genre_gtzan")
    assert len(genre.labels) == 10

    analysis = analyzer.analyse_file(METAL)
    assert set(SHIPPED) <= set(analysis.heads)
    assert analysis.heads["genre_gtzan"].top()[0] == "metal"
    # Death metal is the textbook angry/tense quadrant.
    assert analysis.heads["mood_quadrants"].top()[0] == "angry/tense"
    assert analyzer.analyse_file(JAZZ).heads["genre_gtzan"].top()[0] == "jazz"


def test_broken_head_files_are_refused_with_a_clear_error(tmp_path):
    from musictagger.heads import load_head

    source = ROOT / "models" / "genre_gtzan"
    bad = tmp_path / "bad"
    bad.mkdir()
    card = json.loads((source / "head.json").read_text())
    card["input_dim"] = 123
    (bad / "head.json").write_text(json.dumps(card))
    (bad / "weights.safetensors").write_bytes((source / "weights.safetensors").read_bytes())
    with pytest.raises(ModelError, match="do not fit"):
        load_head(bad)
    (bad / "weights.safetensors").write_bytes(b"\x80\x04 not a safetensors file")
    with pytest.raises(ModelError, match="unreadable head weights"):
        load_head(bad)
    (bad / "head.json").write_text("{}")
    with pytest.raises(ModelError, match="lacks"):
        load_head(bad)


def test_head_input_refuses_embeddings_of_the_wrong_models(analyzer):
    from musictagger.heads import head_input, load_head

    _, card = load_head("genre_gtzan")
    analysis = analyzer.analyse_file(JAZZ)
    vector = head_input(card, analysis.models)
    assert vector.shape == (card.input_dim,) and np.isfinite(vector).all()
    with pytest.raises(ModelError, match="not run"):
        head_input(card, {"MSD_musicnn": analysis.models["MSD_musicnn"]})


def test_dataset_embeddings_are_cached_and_a_damaged_entry_is_recomputed(clip_set, analyzer):
    from musictagger.head_training.sources import _cache_file, dataset_tracks

    paths = [str(p) for p in sorted((clip_set / "jazz").iterdir())[:2]]
    first = dataset_tracks(paths, [("jazz",)] * 2, [None] * 2, analyzer)
    versions = [(m, analyzer.cards[m].version) for m in analyzer.model_names]
    entry = _cache_file(paths[0], versions, "fp32")  # the session's analyzer computes in fp32
    assert entry.is_file()
    assert not _cache_file(paths[0], versions, "bf16").is_file()  # bf16 embeddings are kept apart
    entry.write_bytes(entry.read_bytes()[:100])  # a killed disk write: a truncated .npz
    again = dataset_tracks(paths, [("jazz",)] * 2, [None] * 2, analyzer)
    assert not again.errors and again.paths == first.paths
    for model in analyzer.model_names:
        np.testing.assert_allclose(
            again.outputs[0][model].embedding, first.outputs[0][model].embedding, atol=1e-6
        )
