""" "More like this": nearest tracks by the stored embeddings, in a real SQLite library.

Embeddings are constructed so the answer is known without the code under test: with each model's
embedding scaled to unit length and the concatenation scaled to unit length, the similarity of two tracks
is the mean over the models of their cosines, which the tests compute directly.
"""

import json
import shutil
from datetime import datetime

import numpy as np
import pytest
from conftest import DATA
from helpers import track_row
from sqlalchemy import create_engine, select, text, update

from musictagger.analysis import ModelScores, TrackAnalysis
from musictagger.catalog import load_card
from musictagger.library import Analysis, Track
from musictagger.library.similar import (
    SimilarityError,
    build_index,
    nearest_tracks,
    similarity_index,
    track_vectors,
)
from musictagger.library.store import save_analysis

MODELS = ("MSD_musicnn", "MTT_musicnn")
AUDIO = DATA / "audio" / "vibe_ace.ogg"


@pytest.fixture(scope="module")
def cards():
    return {name: load_card(name) for name in MODELS}


def analysis_of(cards, embeddings: dict[str, np.ndarray]) -> TrackAnalysis:
    """A TrackAnalysis with the given embedding per model (scores flat), as save_analysis stores it."""
    models = {}
    for name, embedding in embeddings.items():
        card = cards[name]
        scores = np.full(len(card.labels), 0.01, dtype=np.float32)
        models[name] = ModelScores(
            model=name,
            labels=tuple(card.labels),
            scores=scores,
            taggram=np.tile(scores, (2, 1)),
            embedding=np.asarray(embedding, dtype=np.float32),
        )
    return TrackAnalysis(
        path="x",
        duration_s=6.0,
        sample_rate=16000,
        patch_seconds=2.992,
        patch_starts_s=np.arange(2) * 2.992,
        models=models,
        frame_seconds=0.016,
    )


def mean_cosine(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    return float(np.mean([a[m] @ b[m] / (np.linalg.norm(a[m]) * np.linalg.norm(b[m])) for m in MODELS]))


class Crate:
    """A real library of tracks with constructed embeddings; ``add`` files one track."""

    def __init__(self, library, folder, cards, vocabulary):
        self.library, self.folder, self.cards, self.vocabulary = library, folder, cards, vocabulary
        self.ids: dict[str, int] = {}
        self.embeddings: dict[str, dict[str, np.ndarray]] = {}

    def add(self, name, embeddings=None, *, fingerprint=None, **columns) -> int:
        file = self.folder / f"{name}.ogg"
        shutil.copy(AUDIO, file)
        with self.library.session() as session, session.begin():
            track = track_row(file, fingerprint=fingerprint or f"audio of {name}", **columns)
            session.add(track)
            session.flush()
            if embeddings:
                save_analysis(
                    session, track, analysis_of(self.cards, embeddings), self.cards, self.vocabulary
                )
            self.ids[name] = track.id
        if embeddings:
            self.embeddings[name] = embeddings
        return self.ids[name]

    def nearest(self, name, limit=20, **options) -> list[tuple[str, float]]:
        names = {i: n for n, i in self.ids.items()}
        with self.library.session() as session:
            found = nearest_tracks(session, self.ids[name], limit, **options)
        return [(names[n.track_id], n.similarity) for n in found]


def around(rng, centre: dict[str, np.ndarray], spread: float) -> dict[str, np.ndarray]:
    return {m: centre[m] + spread * rng.normal(size=centre[m].shape).astype(np.float32) for m in MODELS}


@pytest.fixture
def crate(library, tmp_path, cards, vocabulary):
    """``query`` and neighbours at known distances, plus every kind of track that must never be found."""
    rng = np.random.default_rng(7)
    folder = tmp_path / "Music"
    folder.mkdir()
    crate = Crate(library, folder, cards, vocabulary)
    query = {m: rng.normal(size=cards[m].embedding_dim).astype(np.float32) for m in MODELS}
    crate.add("query", query)
    crate.add("near", around(rng, query, 0.2))
    crate.add("middle", around(rng, query, 1.0))
    crate.add("far", {m: -query[m] + 0.5 * rng.normal(size=query[m].shape) for m in MODELS})
    # The same sound, each model's features at another scale: per-model normalisation makes it identical.
    crate.add(
        "rescaled", {"MSD_musicnn": 10 * query["MSD_musicnn"], "MTT_musicnn": 0.1 * query["MTT_musicnn"]}
    )
    # Never suggested: a vanished file, a file not analysed, one analysed by one model only, one whose
    # analysis is of audio it no longer holds, an unreadable one, and a copy of the query's recording.
    crate.add("missing", around(rng, query, 0.01), missing_since=datetime(2026, 1, 1))
    crate.add("unanalysed")
    crate.add("one model", {"MSD_musicnn": query["MSD_musicnn"]})
    crate.add("stale", around(rng, query, 0.01))
    with library.session() as session, session.begin():
        session.get(Track, crate.ids["stale"]).fingerprint = "new audio"
    crate.add("unreadable", around(rng, query, 0.01), error="not an audio file")
    crate.add("copy", query, fingerprint="audio of query")
    return crate


def test_neighbours_rank_by_mean_cosine_and_only_analysed_present_tracks_count(crate):
    found = crate.nearest("query")
    assert [name for name, _ in found] == ["rescaled", "near", "middle", "far"]
    for name, similarity in found:
        assert similarity == pytest.approx(
            mean_cosine(crate.embeddings["query"], crate.embeddings[name]), abs=1e-5
        )
    assert found[0][1] == pytest.approx(1.0, abs=1e-6)
    assert found[-1][1] < -0.5  # opposite sound: negative cosine


def test_limit_keeps_the_nearest_and_ties_go_by_track_id(crate):
    assert [name for name, _ in crate.nearest("query", limit=2)] == ["rescaled", "near"]
    assert crate.nearest("query", limit=0) == []
    # "query" and "copy" hold the same embeddings: from "near" they tie, and the older track comes first.
    ranked = [name for name, _ in crate.nearest("near")]
    assert ranked.index("query") < ranked.index("copy")
    assert [name for name, _ in crate.nearest("copy", limit=1)] == ["rescaled"]  # never its own recording


def test_a_track_that_cannot_be_compared_is_named(crate):
    for name in ("unanalysed", "missing", "one model", "stale", "unreadable"):
        with pytest.raises(SimilarityError, match="no current analysis"):
            crate.nearest(name)


def test_index_rows_are_unit_length_and_hold_only_comparable_tracks(crate):
    with crate.library.session() as session:
        index = build_index(session)
    expected = {crate.ids[n] for n in ("query", "near", "middle", "far", "rescaled", "copy")}
    assert set(index.track_ids.tolist()) == expected
    assert list(index.track_ids) == sorted(index.track_ids)
    assert index.matrix.shape == (6, 400) and index.matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(index.matrix, axis=1), 1.0, atol=1e-6)
    zero = track_vectors([np.zeros((1, 3)), np.ones((1, 2))])
    assert np.allclose(zero, [[0, 0, 0, 0.5, 0.5]])  # a silent model adds nothing to any similarity


def test_the_index_is_built_once_and_kept_up_to_date(crate, library, tmp_path, monkeypatch):
    import musictagger.library.similar as similar

    builds = []
    monkeypatch.setattr(similar, "build_index", lambda *a: builds.append(1) or build_index(*a))
    rng = np.random.default_rng(8)
    query = crate.embeddings["query"]
    with library.session() as session:
        first = similarity_index(session)
        assert similarity_index(session) is first  # nothing changed: no second build
    # A track a scan has just added, not analysed yet, changes nothing (it used to fail the next query).
    crate.add("not analysed yet")
    with library.session() as session:
        assert similarity_index(session) is first
    # A new analysis (a new track analysed) is found at once.
    crate.add("newcomer", around(rng, query, 0.05))
    assert crate.nearest("query", limit=1)[0][0] in ("rescaled", "newcomer")
    assert "newcomer" in [name for name, _ in crate.nearest("query")]
    # A re-analysis updates its rows in place (same ids): the index follows.
    with library.session() as session:
        ids_before = session.scalars(select(Analysis.id).where(Analysis.track_id == crate.ids["far"])).all()
    with library.session() as session, session.begin():
        track = session.get(Track, crate.ids["far"])
        save_analysis(session, track, analysis_of(crate.cards, query), crate.cards, crate.vocabulary)
    with library.session() as session:
        ids_after = session.scalars(select(Analysis.id).where(Analysis.track_id == crate.ids["far"])).all()
    assert ids_after == ids_before
    assert dict(crate.nearest("query"))["far"] == pytest.approx(1.0, abs=1e-6)
    # A long read transaction on SQLite sees its old snapshot (PostgreSQL's READ COMMITTED sees each
    # statement's newest commits); what it caches does not hide the change from the next.
    with library.session() as reader:
        reader.execute(select(Track.id)).all()  # the snapshot starts here
        crate.add("late", around(rng, query, 0.05))
        seen = crate.ids["late"] in similarity_index(reader).track_ids
        assert seen == (library.engine.dialect.name != "sqlite")
    assert "late" in dict(crate.nearest("query"))
    # A file that became unreadable drops out; a track analysed by its second model comes in.
    with library.session() as session, session.begin():
        session.get(Track, crate.ids["middle"]).error = "unreadable now"
        track = session.get(Track, crate.ids["one model"])
        mtt = {"MTT_musicnn": query["MTT_musicnn"]}
        save_analysis(session, track, analysis_of(crate.cards, mtt), crate.cards, crate.vocabulary)
    found = dict(crate.nearest("query"))
    assert "middle" not in found and found["one model"] == pytest.approx(1.0, abs=1e-6)
    assert_same_as_built_afresh(library)
    assert len(builds) == 1  # each change above read its tracks again, nothing more
    # A file gone missing (the scanner's bulk update: which tracks, it does not say) drops out.
    with library.session() as session, session.begin():
        session.execute(
            update(Track).where(Track.id == crate.ids["near"]).values(missing_since=datetime.now())
        )
    assert "near" not in dict(crate.nearest("query"))
    assert len(builds) == 2  # rebuilt
    # A change rolled back changes nothing: the index is kept.
    with library.session() as session:
        kept = similarity_index(session)
        session.get(Track, crate.ids["middle"]).missing_since = datetime.now()
        session.flush()
        session.rollback()
    with library.session() as session:
        assert similarity_index(session) is kept
    # Another process adds an analysed track (here: another connection, no ORM): the digest sees it.
    other = create_engine(library.engine.url)  # a plain engine: none of the index's own hooks
    with other.begin() as connection:
        track_id = _insert_with_another_connection(connection, query)
    other.dispose()
    with library.session() as session:
        assert similarity_index(session) is not kept
        found = nearest_tracks(session, crate.ids["query"], 20)
    assert track_id in [n.track_id for n in found]
    assert len(builds) == 2  # read by id: the analyses past the largest id seen
    assert_same_as_built_afresh(library)


def test_a_library_analysed_after_the_first_query_is_found(library, tmp_path, cards, vocabulary):
    rng = np.random.default_rng(10)
    (tmp_path / "Music").mkdir()
    crate = Crate(library, tmp_path / "Music", cards, vocabulary)
    crate.add("first")
    with library.session() as session:
        assert len(similarity_index(session)) == 0  # nothing analysed yet: an empty index
    query = {m: rng.normal(size=cards[m].embedding_dim).astype(np.float32) for m in MODELS}
    crate.add("a", query)
    crate.add("b", around(rng, query, 0.3))
    assert [name for name, _ in crate.nearest("a")] == ["b"]
    assert_same_as_built_afresh(library)


def assert_same_as_built_afresh(library) -> None:
    """The index kept up to date holds what a new build reads."""
    with library.session() as session:
        kept, fresh = similarity_index(session), build_index(session)
    assert kept is not fresh and kept.track_ids.tolist() == fresh.track_ids.tolist()
    assert np.allclose(kept.matrix, fresh.matrix, atol=1e-7)
    for facts in ("recordings", "bpm", "keys"):
        assert np.array_equal(getattr(kept, facts), getattr(fresh, facts), equal_nan=True), facts


def _insert_with_another_connection(connection, embeddings) -> int:
    track_id = connection.execute(
        text(
            "INSERT INTO tracks (path_key, path, folder, size, mtime_ns, fingerprint, file_tags, scanned_at) "
            "VALUES (:key, :path, :folder, 1, 1, 'elsewhere', '{}', '2026-01-01 00:00:00') RETURNING id"
        ),
        {"key": b"/elsewhere/track.ogg", "path": "/elsewhere/track.ogg", "folder": "/elsewhere"},
    ).scalar_one()
    for model, embedding in embeddings.items():
        connection.execute(
            text(
                "INSERT INTO analyses (track_id, model, model_version, fingerprint, scores, patch_seconds, "
                "taggram, n_patches, embedding, created_at) VALUES (:track, :model, '1', 'elsewhere', '{}', "
                "3.0, :taggram, 0, :embedding, '2026-01-01 00:00:00')"
            ),
            {
                "track": track_id,
                "model": model,
                "taggram": b"",
                "embedding": np.asarray(embedding, np.float32).tobytes(),
            },
        )
    return track_id


def test_key_and_tempo_keep_the_tracks_a_dj_could_mix(library, tmp_path, cards, vocabulary):
    rng = np.random.default_rng(9)
    folder = tmp_path / "Music"
    folder.mkdir()
    crate = Crate(library, folder, cards, vocabulary)
    query = {m: rng.normal(size=cards[m].embedding_dim).astype(np.float32) for m in MODELS}
    crate.add("query", query, bpm=124.0, key="A minor")
    tracks = {  # name: (bpm, key), every one nearer than the next
        "same key, 126": (126.0, "A minor"),
        "C major (relative), 62 (half)": (62.0, "C major"),
        "E minor (+1), 250 (double)": (250.0, "E minor"),
        "D minor (-1), 131.5 (+6.05 %)": (131.5, "D minor"),
        "B minor (+2), 124": (124.0, "B minor"),
        "A major (parallel), 117": (117.0, "A major"),
        "no key, no bpm": (None, None),
    }
    for i, (name, (bpm, key)) in enumerate(tracks.items()):
        crate.add(name, around(rng, query, 0.1 * (i + 1)), bpm=bpm, key=key)
    names = lambda **options: [name for name, _ in crate.nearest("query", **options)]  # noqa: E731
    assert names() == list(tracks)
    assert names(key_rule="compatible") == list(tracks)[:4]
    assert names(key_rule="same") == ["same key, 126"]
    assert names(bpm_tolerance=0.06) == [
        "same key, 126",
        "C major (relative), 62 (half)",
        "E minor (+1), 250 (double)",
        "B minor (+2), 124",
        "A major (parallel), 117",
    ]
    assert names(bpm_tolerance=0.06, half_double=False) == [
        "same key, 126",
        "B minor (+2), 124",
        "A major (parallel), 117",
    ]
    assert names(bpm_tolerance=0.07, key_rule="compatible") == list(tracks)[:4]
    # ±1.5 %: 126 is 1.6 % away; half of 250 and double 62 are within it.
    assert names(bpm_tolerance=0.015, key_rule="compatible") == [
        "C major (relative), 62 (half)",
        "E minor (+1), 250 (double)",
    ]
    with pytest.raises(SimilarityError, match="no BPM"):
        crate.nearest("no key, no bpm", bpm_tolerance=0.06)
    with pytest.raises(SimilarityError, match="no key"):
        crate.nearest("no key, no bpm", key_rule="compatible")
    # Keys written in another notation (a tag read from Mixed In Key) compare as the same key.
    with library.session() as session, session.begin():
        session.get(Track, crate.ids["B minor (+2), 124"]).key = "8A"  # Camelot for A minor
    assert names(key_rule="same") == ["same key, 126", "B minor (+2), 124"]
    assert_same_as_built_afresh(library)


# -- the command ---------------------------------------------------------------------------------------


def run_list(capsys, *args):
    from musictagger.cli import main

    code = main(["list", *[str(a) for a in args]])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_like_prints_the_nearest_tracks_as_list_does(crate, capsys, library_url):
    db, query = library_url, crate.folder / "query.ogg"
    code, out, _ = run_list(capsys, "--like", query, "--db", db)
    lines = out.splitlines()
    assert code == 0 and [line.split("  ")[0] for line in lines] == [
        str(crate.folder / f"{name}.ogg") for name in ("rescaled", "near", "middle", "far")
    ]
    assert "  genres: " in lines[0] and "  similarity: 1.000" in lines[0]

    code, out, _ = run_list(capsys, "--like", query, "--limit", "2", "--json", "--db", db)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["path"] for r in records] == [
        str(crate.folder / n) for n in ("rescaled.ogg", "near.ogg")
    ]
    expected = mean_cosine(crate.embeddings["query"], crate.embeddings["near"])
    assert records[1]["similarity"] == pytest.approx(expected, abs=1e-4)
    assert {"path", "duration_s", "genres", "moods", "similarity", "bpm", "key"} <= set(records[0])

    # The search narrows the candidates; the nearest among them still come first.
    code, out, _ = run_list(capsys, "--like", query, "--search", "ddl", "--db", db)
    assert code == 0 and [line.split("  ")[0] for line in out.splitlines()] == [
        str(crate.folder / "middle.ogg")
    ]

    code, _, err = run_list(capsys, "--like", crate.folder / "nowhere.ogg", "--db", db)
    assert code == 2 and "not in the library" in err
    code, _, err = run_list(capsys, "--like", crate.folder / "unanalysed.ogg", "--db", db)
    assert code == 2 and "no current analysis" in err
    code, _, err = run_list(capsys, "--compatible-key", "--db", db)
    assert code == 2 and "need --like" in err
