"""Analysis of real tracks: parity with the original musicnn, patching, batching, errors per file."""

import re

import numpy as np
import pytest
import soundfile as sf
from conftest import JAZZ, JAZZ_REFERENCE, METAL

from musictagger.analysis import AnalysisCancelled, NothingToTag, analyse_files
from musictagger.audio import load_audio


def top3(labels, scores):
    return {labels[i] for i in np.argsort(-np.asarray(scores))[:3]}


def test_track_level_tags_match_the_original_musicnn_from_the_audio_file(analyzer):
    analysis = analyzer.analyse_file(JAZZ)
    with np.load(JAZZ_REFERENCE) as ref:
        for model in ("MSD_musicnn", "MTT_musicnn"):
            ours = analysis.models[model]
            theirs = ref[f"{model}_taggram"]
            assert ours.taggram.shape == theirs.shape
            assert np.abs(ours.scores - theirs.mean(axis=0)).mean() < 0.01
            assert top3(ours.labels, ours.scores) == top3(ours.labels, theirs.mean(axis=0))


def test_a_metal_track_is_heard_as_metal_and_a_jazz_track_as_jazz(analyzer):
    metal = analyzer.analyse_file(METAL).models["MSD_musicnn"].as_dict()
    jazz = analyzer.analyse_file(JAZZ).models["MSD_musicnn"].as_dict()
    assert max(metal, key=metal.get) == "metal"
    assert max(jazz, key=jazz.get) == "jazz"


def test_taggram_rows_are_3s_patches_with_start_times_and_the_embedding_is_their_mean(analyzer):
    analysis = analyzer.analyse_file(METAL, keep_spectrogram=True)
    n_samples = len(load_audio(METAL))
    assert analysis.duration_s == pytest.approx(12.0, abs=0.01)
    assert analysis.patch_seconds == pytest.approx(187 * 256 / 16000)
    n_patches = (1 + n_samples // 256) // 187
    assert analysis.patch_starts_s.tolist() == pytest.approx(
        [i * analysis.patch_seconds for i in range(n_patches)]
    )
    scores = analysis.models["MSD_musicnn"]
    assert scores.taggram.shape == (n_patches, 50) and scores.embedding.shape == (200,)
    assert analysis.spectrogram.shape == (1 + n_samples // 256, 96)


def test_batching_does_not_change_results(analyzer):
    from musictagger.analysis import Analyzer

    one_by_one = Analyzer(device="cpu", batch_size=1, precision="fp32").analyse_file(
        METAL, keep_spectrogram=True
    )
    batched = analyzer.analyse_file(METAL, keep_spectrogram=True)
    np.testing.assert_allclose(one_by_one.spectrogram, batched.spectrogram, atol=1e-4)
    for model in batched.models:
        np.testing.assert_allclose(one_by_one.models[model].taggram, batched.models[model].taggram, atol=1e-5)


def test_a_track_shorter_than_one_patch_or_silent_is_reported_not_tagged(analyzer, tmp_path):
    # The taggers answer something for any input (silence is "Rock, Happy" to them): such a track must be
    # a per-file message with no analysis, so nothing is stored or written for it.
    audio, rate = sf.read(METAL, frames=44100)  # one second
    short = tmp_path / "one second.wav"
    sf.write(short, audio, rate)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(rate * 20, dtype=np.float32), rate)
    hiss = tmp_path / "hiss at -70 dBFS.wav"
    noise = np.random.default_rng(0).standard_normal(rate * 20).astype(np.float32)
    sf.write(hiss, noise * 10 ** (-70 / 20), rate)
    with pytest.raises(NothingToTag, match=r"too short to tag \(1\.0 s; .* at least 3 s"):
        analyzer.analyse_file(short)
    results = list(analyse_files(analyzer, [str(short), str(silent), str(hiss), str(JAZZ)]))
    causes = [r.error.cause if r.error else None for r in results]
    assert causes[0].startswith("too short to tag")
    assert causes[1] == "silent (digital silence): nothing to tag"
    # (-75, not -70: the resampling to 16 kHz drops the noise above 8 kHz)
    assert re.fullmatch(r"silent \(-7\d dBFS\): nothing to tag", causes[2])
    assert causes[3] is None and results[3].analysis is not None
    # Library mode reads only excerpts: silent excerpts of a long silent track say the same.
    long_silent = tmp_path / "long silent.wav"
    sf.write(long_silent, np.zeros(rate * 120, dtype=np.float32), rate)
    with pytest.raises(NothingToTag, match="silent"):
        analyzer.analyse_file(long_silent, patch_budget=16)


def test_a_batch_reports_bad_files_and_goes_on_in_order(analyzer, tmp_path):
    bad = tmp_path / "not audio.mp3"
    bad.write_text("these are liner notes, not audio")
    results = list(analyse_files(analyzer, [str(METAL), str(bad), str(tmp_path / "gone.flac"), str(JAZZ)]))
    assert [r.path for r in results] == [str(METAL), str(bad), str(tmp_path / "gone.flac"), str(JAZZ)]
    assert results[0].analysis is not None and results[3].analysis is not None
    for failed in results[1:3]:
        assert failed.analysis is None and str(failed.path) in str(failed.error)


def test_a_callback_sees_the_spectrogram_as_it_is_computed_and_can_cancel(tmp_path):
    from musictagger.analysis import Analyzer

    analyzer = Analyzer(device="cpu", batch_size=1, precision="fp32")
    seen = []
    analyzer.analyse_file(METAL, on_chunk=lambda start, mel: seen.append((start, mel.shape)))
    assert [s for s, _ in seen] == [i * 187 for i in range(len(seen))] and len(seen) >= 4
    with pytest.raises(AnalysisCancelled):
        analyzer.analyse_file(METAL, on_chunk=lambda start, mel: start >= 187)
