"""Analysis results in the index: what needs analysing, saving as results land, resuming, reading back."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, METAL
from sqlalchemy import select

from musictagger.analysis import ModelScores, TrackAnalysis
from musictagger.catalog import load_card
from musictagger.library import Analysis, Track, TrackLabel, open_library
from musictagger.library.labelling import LABEL_CATEGORIES, LABEL_FLOOR
from musictagger.library.scanner import scan
from musictagger.library.store import (
    analyse_pending,
    analyses_needed,
    load_analysis,
    save_analysis,
)

MODELS = ("MSD_musicnn", "MTT_musicnn")
VIBE = DATA / "audio" / "vibe_ace.ogg"  # 3.5 s
ODD_NAME = b"caf\xe9 \xff.mp3"  # not UTF-8


@pytest.fixture(scope="module")
def cards():
    return {name: load_card(name) for name in MODELS}


@pytest.fixture(scope="module")
def analysed(tmp_path_factory, analyzer, vocabulary):
    """Three short files scanned, then analysed in two runs: stopped after the first result, resumed."""
    root = tmp_path_factory.mktemp("store") / "Music"
    root.mkdir()
    shutil.copy(VIBE, root / "vibe ace.ogg")
    shutil.copy(METAL, root / "metal.ogg")
    shutil.copyfile(os.fsencode(DATA / "audio" / "vibe_ace.mp3"), os.fsencode(root) + b"/" + ODD_NAME)
    library = open_library(root.parent / "library.sqlite")
    scan(library, [root])
    first, second = [], []

    def collect(into):
        return lambda track_id, analysis, error: into.append((track_id, analysis, error))

    runs = [
        analyse_pending(
            library, analyzer, vocabulary, on_result=collect(first), should_stop=lambda: len(first) >= 1
        ),
        analyse_pending(library, analyzer, vocabulary, on_result=collect(second)),
    ]
    yield library, root, runs, first + second
    library.close()


def current(analyzer) -> dict[str, str]:
    return {name: card.version for name, card in analyzer.cards.items()}


def track_at(session, path) -> Track:
    return session.scalars(select(Track).where(Track.path_key == os.fsencode(path))).one()


@pytest.fixture
def raw_vocabulary(tmp_path):
    """A user's vocabulary built on raw tagger tags (as version 1 shipped): what these tests check (ranks,
    floors, synonyms across models, analyses of other audio) does not depend on where labels come from."""
    from musictagger.taxonomy import load_vocabulary

    entries = [
        ("Jazz", "genre", {"MSD_musicnn": ["jazz"]}),
        ("Rock", "genre", {"MSD_musicnn": ["rock"], "MTT_musicnn": ["rock"]}),
        ("Happy", "mood", {"MSD_musicnn": ["happy"]}),
        ("Sad", "mood", {"MSD_musicnn": ["sad"]}),
    ]
    path = tmp_path / "raw_vocabulary.json"
    path.write_text(json.dumps({"labels": [{"name": n, "category": c, "sources": s} for n, c, s in entries]}))
    return load_vocabulary(path)


def synthetic_analysis(cards, scores: dict[str, float], n_patches: int = 2, path: str = "x") -> TrackAnalysis:
    """A TrackAnalysis without running a model: every model hears ``scores`` (raw tag -> probability)."""
    models = {}
    for name, card in cards.items():
        row = np.array([scores.get(label, 0.0) for label in card.labels], dtype=np.float32)
        models[name] = ModelScores(
            model=name,
            labels=tuple(card.labels),
            scores=row,
            taggram=np.tile(row, (n_patches, 1)),
            embedding=np.arange(card.embedding_dim, dtype=np.float32),
        )
    return TrackAnalysis(
        path=path,
        duration_s=3.0 * n_patches,
        sample_rate=16000,
        patch_seconds=2.992,
        patch_starts_s=np.arange(n_patches) * 2.992,
        models=models,
        frame_seconds=0.016,
    )


@pytest.fixture
def three_tracks(library, tmp_path):
    root = tmp_path / "Music"
    root.mkdir()
    for name in ("a.mp3", "b.mp3", "c.wav"):
        shutil.copy(DATA / "formats" / ("untagged" + os.path.splitext(name)[1]), root / name)
    shutil.copy(DATA / "formats" / "tagged_id3v24.mp3", root / "a.mp3")  # other audio than b.mp3
    scan(library, [root])
    return root


# --------------------------------------------------------------------------------------------------
# With the real models
# --------------------------------------------------------------------------------------------------


def test_a_stopped_run_saves_what_it_analysed_and_the_next_run_does_only_the_rest(analysed):
    _, _, (first, second), results = analysed
    assert (first.pending, first.analysed, first.stopped) == (3, 1, True)
    assert (second.pending, second.analysed, second.stopped) == (2, 2, False)
    assert first.errors == second.errors == []
    ids = [track_id for track_id, _, _ in results]
    assert len(set(ids)) == 3  # every track analysed exactly once over the two runs
    assert all(analysis is not None and error is None for _, analysis, error in results)


def test_every_model_has_a_current_analysis_row_and_nothing_is_left_to_do(analysed, analyzer):
    library, _, _, _ = analysed
    with library.session() as session:
        assert analyses_needed(session, analyzer.model_names, current(analyzer)) == []
        for track in session.scalars(select(Track)):
            rows = {row.model: row for row in track.analyses}
            assert set(rows) == set(analyzer.model_names)
            for name, row in rows.items():
                card = analyzer.cards[name]
                assert row.model_version == card.version and row.fingerprint == track.fingerprint
                assert len(row.taggram) == row.n_patches * len(card.labels) * 2  # float16
                assert len(row.embedding) == card.embedding_dim * 4  # float32
                assert set(row.scores) == set(card.labels)
        # A new model version makes every track due again.
        assert len(analyses_needed(session, ["MSD_musicnn"], {"MSD_musicnn": "2.0"})) == 3


def test_stored_analyses_read_back_as_the_analyser_gave_them(analysed):
    library, _, _, results = analysed
    with library.session() as session:
        for track_id, analysis, _ in results:
            stored = load_analysis(session, session.get(Track, track_id))
            assert set(stored) == set(analysis.models)
            for name, scores in analysis.models.items():
                got = stored[name]
                assert got.scores == pytest.approx(scores.as_dict())
                assert got.taggram.shape == scores.taggram.shape and got.taggram.dtype == np.float32
                np.testing.assert_allclose(got.taggram, scores.taggram, atol=1e-3)  # float16
                np.testing.assert_array_equal(got.embedding, scores.embedding.astype(np.float32))
                assert got.patch_seconds == pytest.approx(analysis.patch_seconds)
                assert list(got.scores) == list(scores.labels)  # taggram columns in score order


def test_labels_are_ranked_per_category_and_the_metal_track_is_metal(analysed):
    library, root, _, _ = analysed
    with library.session() as session:
        metal = track_at(session, root / "metal.ogg")
        styles = sorted((lb for lb in metal.labels if lb.category == "style"), key=lambda lb: lb.rank)
        assert styles[0].label in {"Metal", "Heavy Metal"}
        genres = {lb.label for lb in metal.labels if lb.category == "genre"}
        assert "Rock" in genres  # the calibrated family
        # Energy and valence from the regression head: death metal is energetic and negative.
        assert metal.energy > 7 and metal.valence < 0
        for track in session.scalars(select(Track)):
            assert track.labels and {lb.category for lb in track.labels} <= set(LABEL_CATEGORIES)
            assert all(lb.score >= LABEL_FLOOR for lb in track.labels)
            for category in LABEL_CATEGORIES:
                ranked = sorted(
                    (lb for lb in track.labels if lb.category == category), key=lambda lb: lb.rank
                )
                assert [lb.rank for lb in ranked] == list(range(1, len(ranked) + 1))
                assert [lb.score for lb in ranked] == sorted((lb.score for lb in ranked), reverse=True)


def test_a_file_with_a_non_utf8_name_is_analysed(analysed):
    library, root, _, _ = analysed
    with library.session() as session:
        track = session.scalars(
            select(Track).where(Track.path_key == os.fsencode(root) + b"/" + ODD_NAME)
        ).one()
        assert track.error is None and len(track.analyses) == 2


def test_a_file_that_fails_to_decode_gets_an_error_and_is_reported(
    library, three_tracks, analyzer, vocabulary
):
    broken = three_tracks / "b.mp3"
    broken.write_text("not audio any more\n" * 50)  # after the scan, before the analysis
    results = []
    # Only the broken file is analysed: the others are given current analyses first.
    with library.session() as session, session.begin():
        for name in ("a.mp3", "c.wav"):
            track = track_at(session, three_tracks / name)
            save_analysis(session, track, synthetic_analysis(analyzer.cards, {}), analyzer.cards, vocabulary)
    report = analyse_pending(library, analyzer, vocabulary, on_result=lambda *r: results.append(r))
    assert (report.pending, report.analysed) == (1, 0)
    assert report.errors == [(str(broken), "not an audio file (it is text)")]
    with library.session() as session:
        track = track_at(session, broken)
        assert track.error == "not an audio file (it is text)" and track.analyses == []
        assert results == [(track.id, None, "not an audio file (it is text)")]
        assert analyses_needed(session, analyzer.model_names, current(analyzer)) == []
    # The next scan reads the file again (it changed; and errored files are always retried).
    shutil.copy(DATA / "formats" / "untagged.mp3", broken)
    scan(library, [three_tracks])
    with library.session() as session:
        assert track_at(session, broken).error is None
        assert [t.path for t in analyses_needed(session, analyzer.model_names, current(analyzer))] == [
            str(broken)
        ]


# --------------------------------------------------------------------------------------------------
# Without running a model
# --------------------------------------------------------------------------------------------------


def test_analyses_needed_lists_tracks_lacking_a_current_analysis(library, three_tracks, cards, vocabulary):
    versions = {name: card.version for name, card in cards.items()}
    with library.session() as session, session.begin():
        assert [t.path for t in analyses_needed(session, MODELS, versions)] == [
            str(three_tracks / n) for n in ("a.mp3", "b.mp3", "c.wav")
        ]
        a, b, c = (track_at(session, three_tracks / n) for n in ("a.mp3", "b.mp3", "c.wav"))
        for track in (a, b, c):
            save_analysis(session, track, synthetic_analysis(cards, {"jazz": 0.8}), cards, vocabulary)
        assert analyses_needed(session, MODELS, versions) == []
        # b: its audio changed since (another fingerprint); c: only one model is current.
        b.fingerprint = "0" * 64
        session.delete(next(row for row in c.analyses if row.model == "MTT_musicnn"))
        session.flush()
        assert {t.id for t in analyses_needed(session, MODELS, versions)} == {b.id, c.id}
        assert {t.id for t in analyses_needed(session, ["MSD_musicnn"], versions)} == {b.id}
        # Missing and unreadable tracks are not analysed.
        from musictagger.library.scanner import utc_now

        b.missing_since = utc_now()
        c.error = "file is empty"
        session.flush()
        assert analyses_needed(session, MODELS, versions) == []
        assert analyses_needed(session, MODELS, {name: "9" for name in MODELS}) == [a]
    with pytest.raises(ValueError):
        analyses_needed(session, MODELS, ["1.0"])


def test_saving_again_replaces_the_rows_and_rebuilds_the_labels(library, three_tracks, cards, raw_vocabulary):
    vocabulary = raw_vocabulary
    with library.session() as session, session.begin():
        track = track_at(session, three_tracks / "a.mp3")
        save_analysis(
            session,
            track,
            synthetic_analysis(cards, {"jazz": 0.8, "rock": 0.3, "happy": 0.04}),
            cards,
            vocabulary,
        )
    with library.session() as session:
        labels = {
            (lb.category, lb.label): (lb.score, lb.rank)
            for lb in track_at(session, three_tracks / "a.mp3").labels
        }
    assert labels[("genre", "Jazz")] == (pytest.approx(0.8), 1)
    assert labels[("genre", "Rock")] == (pytest.approx(0.3), 2)
    assert ("mood", "Happy") not in labels  # below the floor
    assert all(category != "other" for category, _ in labels)

    with library.session() as session, session.begin():
        track = track_at(session, three_tracks / "a.mp3")
        save_analysis(
            session,
            track,
            synthetic_analysis(cards, {"rock": 0.9, "jazz": 0.5, "sad": 0.6}, n_patches=5),
            cards,
            vocabulary,
        )
    with library.session() as session:
        track = track_at(session, three_tracks / "a.mp3")
        labels = {(lb.category, lb.label): (lb.score, lb.rank) for lb in track.labels}
        assert labels[("genre", "Rock")] == (pytest.approx(0.9), 1)
        assert labels[("genre", "Jazz")] == (pytest.approx(0.5), 2)
        assert labels[("mood", "Sad")] == (pytest.approx(0.6), 1)
        assert len(session.scalars(select(Analysis).where(Analysis.track_id == track.id)).all()) == 2
        assert {name: s.taggram.shape[0] for name, s in load_analysis(session, track).items()} == {
            m: 5 for m in MODELS
        }
        assert (
            session.scalars(select(TrackLabel).where(TrackLabel.track_id == track.id)).all() == track.labels
        )


def test_labels_combine_the_models_and_ignore_analyses_of_other_audio(
    library, three_tracks, cards, raw_vocabulary
):
    vocabulary = raw_vocabulary
    with library.session() as session, session.begin():
        track = track_at(session, three_tracks / "a.mp3")
        only_msd = synthetic_analysis({"MSD_musicnn": cards["MSD_musicnn"]}, {"jazz": 0.7})
        save_analysis(session, track, only_msd, cards, vocabulary)
        only_mtt = synthetic_analysis({"MTT_musicnn": cards["MTT_musicnn"]}, {"rock": 0.6})
        save_analysis(session, track, only_mtt, cards, vocabulary)
        assert {lb.label for lb in track.labels if lb.category == "genre"} == {"Jazz", "Rock"}
        # The file's audio changed: the MSD analysis is of other audio and no longer counts.
        next(row for row in track.analyses if row.model == "MSD_musicnn").fingerprint = "0" * 64
        save_analysis(
            session,
            track,
            synthetic_analysis({"MTT_musicnn": cards["MTT_musicnn"]}, {"rock": 0.6}),
            cards,
            vocabulary,
        )
        assert {lb.label for lb in track.labels if lb.category == "genre"} == {"Rock"}


@pytest.mark.both_databases  # scan, analyse, store, relabel: the store's path through SQL, on PostgreSQL too
def test_a_changed_vocabulary_relabels_every_analysed_track_without_decoding(
    tmp_path, library_url, analyzer, vocabulary
):
    """A new vocabulary (or head) rebuilds the labels from the stored analyses: nothing is re-analysed."""
    from musictagger.taxonomy import load_vocabulary

    root = tmp_path / "Music"
    root.mkdir()
    shutil.copy(METAL, root / "metal.ogg")
    with open_library(library_url) as library:
        scan(library, [root])
        assert analyse_pending(library, analyzer, vocabulary).analysed == 1
        with library.session() as session:
            track = session.scalars(select(Track)).one()
            assert track.energy is not None and {"Rock", "Metal"} <= {lb.label for lb in track.labels}
        # The user renames a style in their copy of the vocabulary.
        doc = json.loads(Path(vocabulary.path).read_text(encoding="utf-8"))
        for entry in doc["labels"]:
            if entry["name"] == "Metal":
                entry["name"] = "Heavy Stuff"
        mine = tmp_path / "vocabulary.json"
        mine.write_text(json.dumps(doc), encoding="utf-8")
        renamed = load_vocabulary(mine)
        report = analyse_pending(library, analyzer, renamed)
        assert (report.analysed, report.relabelled) == (0, 1)
        with library.session() as session:
            labels = {lb.label for lb in session.scalars(select(Track)).one().labels}
            assert "Heavy Stuff" in labels and "Metal" not in labels
        assert analyse_pending(library, analyzer, renamed).relabelled == 0  # current now: nothing to do
