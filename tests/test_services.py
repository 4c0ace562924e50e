"""The application services both front ends call: models from settings, scan + analyse, suggestions with
reviews, plan / write / undo, folders, search and export. Qt-free, on real files and a real index."""

import os
import shutil
from pathlib import Path
from typing import ClassVar

import pytest

from musictagger.library import Track, TrackLabel
from musictagger.library.policy import WritePolicy
from musictagger.library.review import planned_writes_with_reviews, set_review
from musictagger.library.scanner import scan
from musictagger.library.writing import UndoError
from musictagger.services import analysis as analysis_service
from musictagger.services.analysis import Models, analyse_paths, audio_files, scan_and_analyse
from musictagger.services.export import export_playlist
from musictagger.services.folders import add_folders, is_empty, library_folders, remove_folder
from musictagger.services.search import TrackQuery, find
from musictagger.services.suggest import head_suggestions, track_suggestions
from musictagger.services.writes import list_batches, plan_write, track_ids_under, undo, write
from musictagger.settings import Settings
from musictagger.tags import read_tags

FORMATS = Path(__file__).parent / "data" / "formats"
FILES = ("untagged.wav", "tagged.flac", "untagged.mp3", "tagged_id3v23.mp3")
# Labels given by hand (no model run): what an analysis would have stored.
LABELS = {
    "genre": [("Jazz", 0.7), ("hip hop", 0.4), ("Hip-Hop", 0.35), ("Rock", 0.15), ("Metal", 0.06)],
    "mood": [("Chill", 0.5), ("Dark", 0.45), ("Melancholic", 0.12)],
}


@pytest.fixture
def music(tmp_path):
    folder = tmp_path / "Music"
    folder.mkdir()
    for name in FILES:
        shutil.copyfile(FORMATS / name, folder / name)
    return folder


@pytest.fixture
def indexed(library, music):
    """The library with the files scanned and labelled by hand: {file name: track id}."""
    scan(library, [music], read_workers=1)
    ids = {}
    with library.session() as session:
        for track in session.query(Track):
            ids[os.path.basename(track.path)] = track.id
            for category, labels in LABELS.items():
                for rank, (label, score) in enumerate(labels, start=1):
                    track.labels.append(TrackLabel(category=category, label=label, score=score, rank=rank))
        session.commit()
    return ids


# -- analysis ---------------------------------------------------------------------------------------------


class SpyAnalyzer:
    """Records what the service asks of the Analyzer (loading models is not what is tested here)."""

    calls: ClassVar[list] = []
    tempo_key_stages: ClassVar[list] = []

    refines: ClassVar[list] = []
    precisions: ClassVar[list] = []
    library_precisions: ClassVar[list] = []

    def __init__(
        self,
        model_names=None,
        device="auto",
        batch_size=None,
        heads=None,
        tempo_key=None,
        refine=None,
        precision="auto",
        library_precision="auto",
    ):
        SpyAnalyzer.library_precisions.append(library_precision)
        SpyAnalyzer.calls.append(
            {"models": model_names, "device": device, "batch_size": batch_size, "heads": heads}
        )
        SpyAnalyzer.precisions.append(precision)
        SpyAnalyzer.tempo_key_stages.append(tempo_key)
        SpyAnalyzer.refines.append(refine)


def test_models_are_built_from_the_analysis_settings(monkeypatch, vocabulary):
    SpyAnalyzer.calls = []
    monkeypatch.setattr(analysis_service, "Analyzer", SpyAnalyzer)
    settings = Settings().replace(
        analysis={"device": "cpu", "models": ("MTT_musicnn",), "heads": ("genre_gtzan",), "batch_size": 4}
    )
    models = Models.load(settings.replace(analysis={"workers": 3}), vocabulary=vocabulary)
    assert SpyAnalyzer.calls[-1] == {
        "models": ("MTT_musicnn",),
        "device": "cpu",
        "batch_size": 4,
        "heads": ("genre_gtzan",),
    }
    assert models.decode_workers == 3 and models.vocabulary is vocabulary
    Models.load(settings.replace(analysis={"run_heads": False}))
    assert SpyAnalyzer.calls[-1]["heads"] == ()  # no heads at all
    Models.load(Settings())
    assert SpyAnalyzer.calls[-1] == {"models": None, "device": "auto", "batch_size": None, "heads": None}
    assert SpyAnalyzer.precisions[-1] == "auto"
    Models.load(Settings().replace(analysis={"precision": "fp32"}))
    assert SpyAnalyzer.precisions[-1] == "fp32"
    assert SpyAnalyzer.library_precisions[-1] == "auto"
    Models.load(Settings().replace(analysis={"library_precision": "same"}))
    assert SpyAnalyzer.library_precisions[-1] == "same"
    assert SpyAnalyzer.tempo_key_stages[-1].tempo_range == (70.0, 180.0)  # tempo and key by default
    Models.load(Settings().replace(analysis={"tempo_range": (80, 170)}))
    assert SpyAnalyzer.tempo_key_stages[-1].tempo_range == (80.0, 170.0)
    Models.load(Settings().replace(analysis={"tempo_key": False}))
    assert SpyAnalyzer.tempo_key_stages[-1] is None
    assert callable(SpyAnalyzer.refines[-1])  # library mode's closer look at labels too close to call


@pytest.fixture(scope="module")
def mtt_models():
    return Models.load(
        Settings().replace(analysis={"device": "cpu", "models": ("MTT_musicnn",), "workers": 1})
    )


def test_scan_and_analyse_with_progress_and_stop(library, music, mtt_models):
    scanned_paths, tracks = [], []
    scan_report, analyse_report = scan_and_analyse(
        library,
        [music],
        mtt_models,
        on_scan_progress=lambda _report, path: scanned_paths.append(path),
        on_track=lambda track_id, analysis, error: tracks.append((track_id, error)),
    )
    assert scan_report.added == len(FILES) and len(scanned_paths) == len(FILES)
    assert analyse_report.analysed == len(FILES) and [e for _, e in tracks if e] == []
    with library.session() as session:
        assert {lb.label for lb in session.query(TrackLabel)}  # labels stored for the suggestions

    # Analysis only (no paths): nothing left to do. A stopped scan analyses nothing.
    assert scan_and_analyse(library, (), mtt_models)[0] is None
    stopped, not_analysed = scan_and_analyse(library, [music], mtt_models, should_stop=lambda: True)
    assert stopped.stopped and not_analysed is None
    assert scan_and_analyse(library, [music], None)[1] is None  # scan only


def test_analyse_paths_without_an_index_stops_when_asked(music, mtt_models):
    files, errors = audio_files([music, music / "nope.mp3"])
    assert [Path(f).name for f in files] == sorted(FILES) and [e.path for e in errors] == [
        str(music / "nope.mp3")
    ]
    results = list(analyse_paths(files, mtt_models, should_stop=lambda: True))
    assert len(results) == 1 and results[0].analysis is not None


# -- suggestions ------------------------------------------------------------------------------------------


def test_suggestions_show_the_display_policy_and_the_reviews_precedence(library, indexed, vocabulary):
    wav, flac, mp3 = indexed["untagged.wav"], indexed["tagged.flac"], indexed["untagged.mp3"]
    with library.session() as session:
        set_review(session, [flac], "genre", ["Lounge", "jazz"], "edited")
        set_review(session, [wav], "mood", None, "rejected")
        set_review(session, [mp3], "genre", None, "accepted")
        session.commit()
    settings = Settings().replace(display={"threshold": 0.2, "cap": 2}, write={"max_genres": 1})
    with library.session() as session:
        found = track_suggestions(session, vocabulary, [wav, flac, mp3], settings)
    genre = found[wav]["genre"]
    assert genre.shown == (("Jazz", 0.7), ("hip hop", 0.4))  # threshold 0.2, at most 2
    assert (genre.mode, genre.values, genre.decided_by) == ("fill", ("Jazz",), "policy")
    assert found[wav]["mood"].mode == "skip" and found[wav]["mood"].values == ()  # rejected
    assert found[wav]["mood"].review.status == "rejected"
    assert found[flac]["genre"].mode == "replace" and found[flac]["genre"].values == ("Lounge", "jazz")
    assert found[mp3]["genre"].mode == "replace" and found[mp3]["genre"].values == ("Jazz",)
    assert found[mp3]["genre"].as_dict()["review"] == {"status": "accepted", "values": None}

    # A field the settings do not write stays unwritten, reviewed or not.
    off = settings.replace(write={"write_genre": False})
    with library.session() as session:
        assert track_suggestions(session, vocabulary, [flac], off)[flac]["genre"].mode == "skip"


def test_suggestions_agree_with_what_the_write_plans(library, indexed, vocabulary):
    ids = list(indexed.values())
    with library.session() as session:
        set_review(session, [indexed["tagged.flac"]], "genre", ["Lounge"], "edited")
        session.commit()
    settings = Settings().replace(write={"genre_mode": "replace", "mood_mode": "replace", "max_moods": 1})
    plans = {p.track_id: p for p in plan_write(library, vocabulary, ids, settings)}
    with library.session() as session:
        found = track_suggestions(session, vocabulary, ids, settings)
    for track_id, fields in found.items():
        for name in ("genre", "mood"):
            if fields[name].mode == "replace" and name in plans[track_id].new:
                assert tuple(plans[track_id].new[name]) == fields[name].values


def test_head_suggestions_read_the_stored_embeddings(library, music, analyzer, vocabulary):
    models = Models(analyzer=analyzer, vocabulary=vocabulary, decode_workers=1)  # every model and head
    scan_and_analyse(library, [music], models)
    with library.session() as session:
        wav = session.query(Track).filter(Track.path.endswith("untagged.wav")).one().id
        heads = head_suggestions(session, [wav])
        assert head_suggestions(session, [wav], heads=["no_such_head"]) == {}
    fresh = analyzer.analyse_file(music / "untagged.wav").head_scores()
    assert set(heads[wav]) == set(fresh) and fresh
    for name, ranked in heads[wav].items():
        assert [p for _, p in ranked] == sorted((p for _, p in ranked), reverse=True)
        for label, p in ranked:
            assert p == pytest.approx(fresh[name][label], abs=1e-4)


# -- writes -----------------------------------------------------------------------------------------------


def test_plan_write_always_honours_reviews_and_reports_progress(library, indexed, vocabulary):
    flac, wav = indexed["tagged.flac"], indexed["untagged.wav"]
    with library.session() as session:
        set_review(session, [flac], "genre", ["Lounge", "Jazz"], "edited")
        set_review(session, [wav], "genre", None, "rejected")
        session.commit()
    settings = Settings()  # fill: the flac's own genre would be kept without its review
    progress = []
    plans = plan_write(library, vocabulary, [flac, wav], settings, on_progress=lambda *a: progress.append(a))
    by_id = {p.track_id: p for p in plans}
    assert by_id[flac].new["genre"] == ["Lounge", "Jazz"]
    assert "genre" not in by_id[wav].new and by_id[wav].new["mood"] == ["Chill", "Dark"]
    assert progress == [(2, 2)]
    with library.session() as session:
        same = planned_writes_with_reviews(session, [flac, wav], settings.write_policy(), vocabulary)
    assert plans == same  # the dialog's planning, exactly
    assert plan_write(library, vocabulary, [flac, wav], settings.write_policy()) == plans  # a policy is fine
    assert plan_write(library, vocabulary, [flac, wav], settings, should_stop=lambda: True) == []


def test_write_undo_and_batches(library, indexed, vocabulary, music):
    ids = track_ids_under(library, [music])
    assert sorted(ids) == sorted(indexed.values())
    assert track_ids_under(library, [music / "untagged.wav"]) == [indexed["untagged.wav"]]
    before = {name: read_tags(music / name) for name in FILES}
    settings = Settings().replace(write={"genre_mode": "replace", "max_genres": 1, "comment_block": True})
    plans = plan_write(library, vocabulary, ids, settings)
    done = []
    report = write(library, plans, settings, "services test", on_progress=lambda d, t: done.append((d, t)))
    assert report.written == len(FILES) and not report.failed
    assert done[-1] == (len(FILES), len(FILES))
    assert read_tags(music / "tagged.flac")["genre"] == ["Jazz"]
    (batch,) = list_batches(library)
    assert (batch.id, batch.files, batch.description, batch.undone) == (
        report.batch_id,
        4,
        "services test",
        False,
    )

    restored = undo(library)
    assert restored.written == len(FILES)
    assert {name: read_tags(music / name) for name in FILES} == before
    assert list_batches(library)[0].undone
    with pytest.raises(UndoError):
        undo(library)


# -- folders, search, export ------------------------------------------------------------------------------


def test_folders_are_kept_in_the_index_and_removing_one_forgets_its_tracks(library, indexed, music, tmp_path):
    other = tmp_path / "Other"
    other.mkdir()
    shutil.copyfile(FORMATS / "tagged.ogg", other / "x.ogg")
    scan(library, [other], read_workers=1)
    assert library_folders(library) == [] and not is_empty(library)
    assert add_folders(library, [music, str(music) + "/", other]) == [str(music), str(other)]
    assert add_folders(library, [music]) == []
    assert library_folders(library) == [str(music), str(other)]

    assert remove_folder(library, music) == len(FILES)
    assert library_folders(library) == [str(other)]
    assert track_ids_under(library, [music]) == []
    assert sorted(p.name for p in music.iterdir()) == sorted(FILES)  # files untouched
    assert remove_folder(library, other) == 1
    assert is_empty(library)


def test_search_and_export_use_the_vocabulary_and_the_one_search_rule(library, indexed, vocabulary, tmp_path):
    with library.session() as session:
        track = session.get(Track, indexed["untagged.mp3"])
        track.artist = "Beyoncé"
        session.commit()
        assert [
            t.id for t in find(session, vocabulary, TrackQuery(genres=("jazz",), min_score=0.5))
        ] == sorted(indexed.values(), key=lambda i: session.get(Track, i).path)
        assert find(session, vocabulary, TrackQuery(genres=("Jazz",), min_score=0.8)) == []
        assert [t.id for t in find(session, vocabulary, TrackQuery(text="BEYONCE"))] == [
            indexed["untagged.mp3"]
        ]
    path, count = export_playlist(library, vocabulary, tmp_path / "out.m3u8", TrackQuery(text="beyonce"))
    assert count == 1 and path.read_text(encoding="utf-8").splitlines()[0] == "#EXTM3U"
    assert str(path.read_text(encoding="utf-8").splitlines()[-1]).endswith("untagged.mp3")


def test_services_never_import_qt():
    import subprocess
    import sys

    code = (
        "import sys, musictagger.services.analysis, musictagger.services.suggest, "
        "musictagger.services.writes, musictagger.services.folders, musictagger.services.export, "
        "musictagger.settings; "
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'musictagger.gui'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_writing_a_policy_or_settings_is_the_same(library, indexed, vocabulary):
    settings = Settings().replace(write={"mood_mode": "skip"})
    assert settings.write_policy() == WritePolicy(mood="skip")
    ids = list(indexed.values())
    assert plan_write(library, vocabulary, ids, settings) == plan_write(
        library, vocabulary, ids, settings.write_policy()
    )
