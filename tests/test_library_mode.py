"""Library mode (issue 14): a fixed budget of patches spread over each track, decoded alone, stored as such.

The excerpts are real audio from tests/data (the 12-s metal excerpt has 4 patches of 3 s; the 3.5-s
vibe_ace excerpt has 1), so small budgets (2) stand in for the default 16 on full-length tracks.
"""

import os
import queue
import shutil
import threading

import numpy as np
import pytest
from conftest import DATA, METAL
from sqlalchemy import select

from musictagger.analysis import TrackAnalysis, analyse_files
from musictagger.audio import Excerpts, load_audio, load_excerpts
from musictagger.library import Analysis, Track
from musictagger.library.scanner import scan
from musictagger.library.store import analyse_pending, analyses_needed, load_analysis, save_analysis
from musictagger.sampling import closer_look_patches, spread_patches
from musictagger.services.analysis import Models, analyse_paths
from musictagger.settings import Settings

VIBE = DATA / "audio" / "vibe_ace.ogg"  # 3.5 s: one patch
PATCH_SECONDS = 187 * 256 / 16000


# -- which patches ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_patches, budget", [(13, 12), (40, 12), (2400, 12), (100, 8), (5, 2), (17, 16)])
def test_sampled_patches_are_distinct_within_the_track_and_one_per_equal_stretch(n_patches, budget):
    chosen = spread_patches(n_patches, budget)
    assert len(chosen) == budget and len(set(chosen.tolist())) == budget
    assert np.all(np.diff(chosen) > 0) and chosen[0] >= 0 and chosen[-1] < n_patches
    centres = (np.arange(budget) + 0.5) * n_patches / budget  # of the budget's equal stretches
    assert np.all((chosen <= centres) & (centres < chosen + 1))  # each patch holds one stretch's centre
    assert np.array_equal(chosen, spread_patches(n_patches, budget))  # deterministic


@pytest.mark.parametrize("n_patches, budget", [(32, 16), (40, 12), (2400, 16), (100, 8)])
def test_the_closer_look_takes_the_stretches_starts_so_both_passes_spread_twice_the_budget(n_patches, budget):
    first, closer = spread_patches(n_patches, budget), closer_look_patches(n_patches, budget)
    assert len(closer) == budget and not set(closer.tolist()) & set(first.tolist())
    gaps = np.diff(np.union1d(first, closer))  # together: twice the budget, evenly spread
    assert len(gaps) == 2 * budget - 1 and gaps.max() - gaps.min() <= 1
    assert closer_look_patches(12, 12) is None


def test_a_track_no_longer_than_the_budget_is_not_sampled_and_a_budget_is_at_least_one():
    assert spread_patches(12, 12) is None and spread_patches(1, 12) is None
    with pytest.raises(ValueError):
        spread_patches(100, 0)


# -- decoding only the excerpts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        METAL,
        DATA / "audio" / "vibe_ace.flac",
        DATA / "audio" / "vibe_ace.mp3",
        DATA / "audio" / "vibe_ace.opus",
        DATA / "audio" / "vibe_ace.wav",
        DATA / "audio" / "vibe_ace_aac.m4a",  # FFmpeg: streamed, only the excerpts kept
    ],
    ids=lambda p: p.name,
)
def test_seek_decoded_excerpts_equal_the_same_samples_of_a_whole_decode(path):
    whole = load_audio(path, 16000)
    n = len(whole)
    length = 48128  # one musicnn patch with its framing margin
    wanted = [(-256, length - 256), (n // 3, n // 3 + length), (n - 1000, n - 1000 + length)]
    seen = []

    def choose(n_samples):
        seen.append(n_samples)
        return wanted

    excerpts = load_excerpts(path, 16000, choose)
    assert isinstance(excerpts, Excerpts)
    assert excerpts.n_samples == n and excerpts.starts == tuple(a for a, _ in wanted)
    # The choice is made on the header's length: exact for libsndfile, an estimate for FFmpeg (AAC's
    # encoder delay), whose true length comes from the stream.
    assert len(seen) == 1 and seen[0] == pytest.approx(n, rel=0.01)
    for (a, b), piece in zip(wanted, excerpts.pieces, strict=True):
        expected = np.zeros(b - a, dtype=np.float32)  # zeros before the start and past the end
        expected[max(a, 0) - a : min(b, n) - a] = whole[max(a, 0) : min(b, n)]
        assert piece.dtype == np.float32 and len(piece) == b - a
        np.testing.assert_allclose(piece, expected, atol=1e-5)  # the resampler's edges, nothing more


def test_a_choice_of_none_decodes_the_whole_track():
    assert np.array_equal(load_excerpts(VIBE, 16000, lambda n: None), load_audio(VIBE, 16000))


# -- the sampled analysis ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def metal_full(analyzer) -> TrackAnalysis:
    return analyzer.analyse_file(METAL)


def test_a_sampled_analysis_runs_the_full_analysis_own_patches_and_means_them(analyzer, metal_full):
    sampled = analyzer.analyse_file(METAL, patch_budget=2)
    assert sampled.sampled and not metal_full.sampled
    assert len(metal_full.patch_starts_s) == 4
    assert sampled.patch_starts_s.tolist() == pytest.approx([1 * PATCH_SECONDS, 3 * PATCH_SECONDS])
    assert sampled.duration_s == pytest.approx(metal_full.duration_s)
    rows = [1, 3]
    for name, full in metal_full.models.items():
        got = sampled.models[name]
        np.testing.assert_allclose(got.taggram, full.taggram[rows], atol=1e-4)
        np.testing.assert_allclose(got.scores, got.taggram.mean(axis=0), atol=1e-6)
    # Heads, energy and genres come from the sampled mean as they come from the full one.
    assert set(sampled.heads) == set(metal_full.heads)
    assert sampled.heads["genre_gtzan"].top()[0] == metal_full.heads["genre_gtzan"].top()[0] == "metal"
    assert set(sampled.dimensions()) == {"energy", "valence"}


def test_a_track_shorter_than_the_budget_is_analysed_in_full(analyzer, metal_full):
    same = analyzer.analyse_file(METAL, patch_budget=4)
    assert not same.sampled
    for name, full in metal_full.models.items():
        np.testing.assert_allclose(same.models[name].taggram, full.taggram, atol=1e-6)
    short = analyzer.analyse_file(VIBE, patch_budget=2)
    assert not short.sampled and len(short.patch_starts_s) == 1


def test_a_sampled_analysis_has_no_spectrogram_to_show(analyzer):
    with pytest.raises(ValueError):
        analyzer.analyse_file(METAL, patch_budget=2, keep_spectrogram=True)


# -- the index --------------------------------------------------------------------------------------------


def analysis_rows(library) -> list[Analysis]:
    with library.session() as session:
        rows = session.scalars(select(Analysis).order_by(Analysis.model)).all()
        session.expunge_all()
        return rows


def test_the_index_records_the_mode_and_a_full_analysis_is_never_replaced_by_a_sampled_one(
    library, tmp_path, analyzer, vocabulary
):
    root = tmp_path / "Music"
    root.mkdir()
    shutil.copy(METAL, root / "metal.ogg")
    scan(library, [root])
    versions = {name: card.version for name, card in analyzer.cards.items()}

    report = analyse_pending(library, analyzer, vocabulary, patch_budget=2)
    assert report.analysed == 1
    rows = analysis_rows(library)
    assert [(r.sampled, r.n_patches) for r in rows] == [(True, 2)] * len(analyzer.cards)
    with library.session() as session:
        track = session.scalars(select(Track)).one()
        stored = load_analysis(session, track)
        assert all(s.sampled for s in stored.values())
        for s in stored.values():  # the rows' own start times, not 0, 3, 6 ... as for a full taggram
            assert s.patch_starts_s.tolist() == pytest.approx([PATCH_SECONDS, 3 * PATCH_SECONDS], abs=1e-4)
        # Current for library mode; not for a full run.
        assert analyses_needed(session, analyzer.model_names, versions) == []
        assert [t.id for t in analyses_needed(session, analyzer.model_names, versions, full=True)] == [
            track.id
        ]
        assert track.energy is not None and track.labels

    report = analyse_pending(library, analyzer, vocabulary)  # full: redoes the sampled analysis
    assert report.analysed == 1
    assert [(r.sampled, r.n_patches, r.patch_starts) for r in analysis_rows(library)] == [
        (False, 4, None)
    ] * len(analyzer.cards)

    assert analyse_pending(library, analyzer, vocabulary, patch_budget=2).pending == 0  # full is current
    sampled = analyzer.analyse_file(root / "metal.ogg", patch_budget=2)
    with library.session() as session, session.begin():  # e.g. the track was selected for a new model
        save_analysis(session, session.scalars(select(Track)).one(), sampled, analyzer.cards, vocabulary)
    assert [(r.sampled, r.n_patches) for r in analysis_rows(library)] == [(False, 4)] * len(analyzer.cards)


def test_the_track_views_full_analysis_replaces_library_modes_in_the_index(
    library, tmp_path, analyzer, vocabulary, metal_full
):
    # Opening a track in the app analyses every patch for the view; the index keeps that answer, so the
    # review panel and a later write go by the scores the track view shows, not the sampled ones.
    from musictagger.library import TrackLabel
    from musictagger.library.store import keep_viewed_analysis

    root = tmp_path / "Music"
    root.mkdir()
    track_file = root / "metal.ogg"
    shutil.copy(METAL, track_file)
    scan(library, [root])
    analyse_pending(library, analyzer, vocabulary, patch_budget=2)
    assert all(r.sampled for r in analysis_rows(library))

    def labels() -> dict[tuple[str, str], float]:
        with library.session() as session:
            return {(t.category, t.label): t.score for t in session.scalars(select(TrackLabel))}

    sampled_labels = labels()
    viewed = analyzer.analyse_file(track_file, keep_spectrogram=True)  # as the track view runs it
    assert keep_viewed_analysis(library, str(track_file), viewed, analyzer.cards, vocabulary) is not None
    assert [(r.sampled, r.n_patches) for r in analysis_rows(library)] == [(False, 4)] * len(analyzer.cards)
    kept = labels()
    assert kept != sampled_labels
    full_moods = vocabulary.canonical_scores(metal_full.label_scores())
    moods = {label: score for (category, label), score in kept.items() if category == "mood"}
    assert moods and set(moods) <= set(full_moods)
    assert moods == pytest.approx({label: full_moods[label] for label in moods}, abs=1e-3)

    # Nothing more to keep; never a sampled answer, a file changed since its scan, or one not indexed.
    assert keep_viewed_analysis(library, str(track_file), viewed, analyzer.cards, vocabulary) is None
    sampled = analyzer.analyse_file(track_file, patch_budget=2)
    assert keep_viewed_analysis(library, str(track_file), sampled, analyzer.cards, vocabulary) is None
    elsewhere = tmp_path / "elsewhere.ogg"
    shutil.copy(METAL, elsewhere)
    assert keep_viewed_analysis(library, str(elsewhere), viewed, analyzer.cards, vocabulary) is None
    os.utime(track_file, ns=(1, 1))
    with library.session() as session, session.begin():
        for row in session.scalars(select(Analysis)):
            row.sampled = True
    assert keep_viewed_analysis(library, str(track_file), viewed, analyzer.cards, vocabulary) is None


# -- the front ends ---------------------------------------------------------------------------------------


def test_library_mode_is_the_default_and_full_is_a_setting(tmp_path):
    assert Settings().analysis.patch_budget() == 16
    assert Settings().replace(analysis={"full": True}).analysis.patch_budget() is None
    assert Settings().replace(analysis={"library_patches": 8}).analysis.patch_budget() == 8


@pytest.fixture(scope="module")
def two_patch_models():
    settings = Settings().replace(
        analysis={"device": "cpu", "library_patches": 2, "tempo_key": False, "models": ("MSD_musicnn",)}
    )
    return Models.load(settings)


def test_batch_tag_samples_and_the_track_view_still_analyses_every_patch(two_patch_models):
    (result,) = analyse_paths([str(METAL)], two_patch_models)
    assert result.analysis.sampled and len(result.analysis.patch_starts_s) == 2

    from musictagger.gui.runner import TaskContext
    from musictagger.gui.worker import LazyModels, analyse_for_display

    lazy = LazyModels(Settings())
    lazy._models = two_patch_models  # the app's models, loaded once: the same library-mode settings
    events: queue.SimpleQueue = queue.SimpleQueue()
    shown = analyse_for_display(TaskContext(1, events, threading.Event()), lazy, str(METAL))
    assert not shown.sampled and len(shown.patch_starts_s) == 4 and shown.spectrogram is not None


def run_tag(*args) -> dict:
    import json
    import subprocess
    import sys

    from conftest import DATA as data

    root = data.parent.parent
    done = subprocess.run(
        [sys.executable, str(root / "main.py"), "tag", "--json", "--quiet", "--device", "cpu", *args],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[0])


def test_tag_full_analyses_every_patch_where_the_default_samples(tmp_path):
    config = os.environ["MUSICTAGGER_CONFIG_DIR"]
    os.makedirs(config, exist_ok=True)
    with open(os.path.join(config, "settings.toml"), "w") as handle:
        handle.write('[analysis]\nlibrary_patches = 2\nmodels = ["MSD_musicnn"]\ntempo_key = false\n')
    sampled = run_tag(str(METAL))
    full = run_tag("--full", str(METAL))
    assert sampled["duration_s"] == full["duration_s"]
    # The record's raw scores are the mean over 2 patches in one and over 4 in the other.
    assert sampled["tags"]["MSD_musicnn"] != full["tags"]["MSD_musicnn"]
    assert sampled["tags"]["MSD_musicnn"]["metal"] > 0.3 and full["tags"]["MSD_musicnn"]["metal"] > 0.3


def test_library_mode_reads_the_tempo_from_a_middle_stretch_and_the_key_from_the_sampled_patches():
    from musictagger.analysis import Analyzer, SampledExcerpts
    from musictagger.tempo_key import TempoKeyStage

    stage = TempoKeyStage()
    try:
        with_stage = Analyzer(("MSD_musicnn",), device="cpu", tempo_key=stage, precision="fp32")
        audio = with_stage.decode_excerpts(METAL, budget=3)[with_stage.tempo_key_rate]
        assert isinstance(audio, SampledExcerpts) and len(audio.pieces) == 3
        group = with_stage._groups[0]
        # The patches are exactly those a decode without the tempo stage gives the networks.
        plain = load_excerpts(METAL, with_stage.tempo_key_rate, lambda n: group.excerpt_ranges(n, 3))
        assert audio.starts == plain.starts
        for got, expected in zip(audio.pieces, plain.pieces, strict=True):
            np.testing.assert_allclose(got, expected, atol=1e-6)
        # The window: as many samples as the patches, in the middle of the whole decode.
        whole = load_audio(METAL, with_stage.tempo_key_rate)
        window = audio.tempo_window
        assert window is not None and len(window) == sum(len(p) for p in audio.pieces) < len(whole)
        start = (audio.n_samples - len(window)) // 2
        np.testing.assert_allclose(window, whole[start : start + len(window)], atol=1e-5)

        sampled = with_stage.analyse_file(METAL, patch_budget=3)
        joined = np.concatenate(group.excerpt_cores(audio))
        expected = stage.process(window, with_stage.tempo_key_rate, joined)
        assert sampled.tempo_key == expected
        assert expected != stage.process(joined, with_stage.tempo_key_rate)  # the window made a difference
    finally:
        stage.close()


def test_a_sampled_analysis_too_close_to_call_gets_a_closer_look_between_its_patches(
    analyzer, metal_full, vocabulary
):
    from conftest import JAZZ

    from musictagger.services.analysis import near_a_threshold

    first = analyzer.analyse_file(METAL, patch_budget=1)
    assert first.sampled and first.patch_starts_s.tolist() == [2 * PATCH_SECONDS]
    jazz_full = analyzer.analyse_file(JAZZ)  # 20 s: 6 patches
    try:
        analyzer.refine = lambda analysis: True
        closer = analyzer.analyse_file(JAZZ, patch_budget=2)
        # The first pass: patches 1 and 4 (the centres of two stretches); the closer look: 0 and 3 (their
        # starts). Only those two were decoded and run; the analysis is the mean over the four.
        rows = [0, 1, 3, 4]
        assert closer.sampled and closer.patch_starts_s.tolist() == pytest.approx(
            [r * PATCH_SECONDS for r in rows]
        )
        for name, full in jazz_full.models.items():
            got = closer.models[name]
            np.testing.assert_allclose(got.taggram, full.taggram[rows], atol=1e-4)
            np.testing.assert_allclose(got.scores, full.taggram[rows].mean(axis=0), atol=1e-4)
            np.testing.assert_allclose(got.embedding, got.patch_embeddings.mean(axis=0), atol=1e-6)
        for name, expected in analyzer.run_heads(closer.models).items():
            np.testing.assert_allclose(closer.heads[name].probs, expected.probs, atol=1e-6)
        analyzer.refine = lambda analysis: True
        (batch,) = analyse_files(analyzer, [str(JAZZ)], patch_budget=2)
        assert batch.analysis.patch_starts_s.tolist() == pytest.approx(closer.patch_starts_s.tolist())
        analyzer.refine = lambda analysis: False
        assert len(analyzer.analyse_file(METAL, patch_budget=1).patch_starts_s) == 1
        # Budget 2 (patches 1 and 3): the closer look (0 and 2) completes the track's 4, so the result is
        # every patch, the full analysis (not marked sampled).
        analyzer.refine = lambda analysis: True
        every = analyzer.analyse_file(METAL, patch_budget=2)
        assert not every.sampled
        assert every.patch_starts_s.tolist() == pytest.approx(metal_full.patch_starts_s.tolist())
        for name, full in metal_full.models.items():
            np.testing.assert_allclose(every.models[name].taggram, full.taggram, atol=1e-4)
            np.testing.assert_allclose(every.models[name].scores, full.scores, atol=1e-5)
    finally:
        analyzer.refine = None
    # The product's check: a genre or mood within the margin of its calibrated threshold.
    assert near_a_threshold(vocabulary, margin=1.0)(first)
    assert not near_a_threshold(vocabulary, margin=0.0, tie_margin=None)(first)
    assert near_a_threshold(vocabulary, margin=0.0, tie_margin=1.0)(first)  # a tie among the top tags


def test_the_closer_look_needs_a_score_near_its_threshold_and_within_its_sampling_error(analyzer, vocabulary):
    from dataclasses import replace

    from conftest import JAZZ

    from musictagger.services.analysis import near_a_threshold

    sampled = analyzer.analyse_file(JAZZ, patch_budget=3)
    loo = analyzer._leave_one_out(sampled)
    assert len(loo) == 3  # one per patch left out
    check = near_a_threshold(vocabulary, margin=1.0, z=1.5)
    # Every score is within 1.0 of its threshold; whether that counts depends on how far leaving a patch
    # out moves it: not at all (as if every patch sounded the same) ...
    steady = replace(sampled, leave_one_out=(sampled.label_scores(),) * 3)
    assert not check(steady)
    # ... or a lot (a patch that flips a genre's score from 0 to 1).
    genre = next(label for label in vocabulary.in_category("genre") if vocabulary.threshold(label.name))
    swinging = []
    for value in (0.0, 1.0, 0.0):
        replica = {source: dict(values) for source, values in sampled.label_scores().items()}
        for source, names in genre.sources.items():
            for name in names:
                if name in replica.get(source, {}):
                    replica[source][name] = value
        swinging.append(replica)
    genre = genre.name
    assert [vocabulary.canonical_scores(r)[genre] for r in swinging] == [0.0, 1.0, 0.0]
    assert check(replace(sampled, leave_one_out=tuple(swinging)))
    # Without replicas (or z None) the margin alone decides, as before.
    assert check(replace(sampled, leave_one_out=()))
    assert near_a_threshold(vocabulary, margin=1.0, z=None)(steady)
    # The tie check: a tagger's third and fourth tags close (within 1.0: always), and moved by a patch.
    ties = near_a_threshold(vocabulary, margin=0.0, z=1.5, tie_margin=1.0)
    assert not ties(steady)
    model, result = next(iter(sampled.models.items()))
    third = result.labels[int(np.argsort(-result.scores, kind="stable")[2])]
    flipping = []
    for value in (0.0, 1.0, 0.0):
        replica = {source: dict(values) for source, values in sampled.label_scores().items()}
        replica[model][third] = value
        flipping.append(replica)
    assert ties(replace(sampled, leave_one_out=tuple(flipping)))
