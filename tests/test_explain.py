"""Explanations on real audio with the shipped models: shape, range, label-specificity, faithfulness
(a small deletion test), the generic layer Grad-CAM, the cache, and the sentence for humans."""

import re

import numpy as np
import pytest
import torch

from musictagger.explain import (
    DEFAULT_METHOD,
    ExplainError,
    ExplanationCache,
    describe,
    explain,
)
from musictagger.explain import api as explain_api
from musictagger.explain.labels import label_logit
from tests.conftest import JAZZ, METAL

MODEL = "MSD_musicnn"


@pytest.fixture(scope="module")
def metal(analyzer):
    return analyzer.analyse_file(METAL, keep_spectrogram=True)


@pytest.fixture(scope="module")
def jazz(analyzer):
    return analyzer.analyse_file(JAZZ, keep_spectrogram=True)


def _explain(analyzer, analysis, label, method=DEFAULT_METHOD, **kwargs):
    kwargs.setdefault("cache", ExplanationCache())
    return explain(analyzer, analysis.spectrogram, MODEL, label, method=method, **kwargs)


def test_default_map_has_the_spectrogram_shape_and_range(analyzer, metal):
    explanation = _explain(analyzer, metal, "Metal")
    assert explanation.map.shape == metal.spectrogram.shape
    assert explanation.map.dtype == np.float32
    assert np.isfinite(explanation.map).all()
    assert explanation.map.min() >= 0.0 and explanation.map.max() == pytest.approx(1.0)
    assert explanation.label == "Metal" and explanation.tags == ("metal",)
    assert explanation.frame_seconds == pytest.approx(256 / 16000)
    assert explanation.patch_seconds == pytest.approx(187 * 256 / 16000)


def test_gradcam_of_metal_differs_from_jazz_on_the_metal_excerpt(analyzer, metal):
    as_metal = _explain(analyzer, metal, "metal", method="gradcam").map
    as_jazz = _explain(analyzer, metal, "jazz", method="gradcam").map
    assert np.isfinite(as_jazz).all() and as_jazz.min() >= 0.0 and as_jazz.max() <= 1.0
    assert np.abs(as_metal - as_jazz).mean() > 0.05


def test_blanking_the_default_maps_top_cells_drops_the_score_more_than_random_regions(analyzer, metal):
    net, _card = explain_api._model_and_card(analyzer, MODEL)  # the analyzer's own loaded model
    index = analyzer.cards[MODEL].labels.index("metal")
    frames = metal.spectrogram.shape[0] // 187 * 187
    patches = metal.spectrogram[:frames].reshape(-1, 187, 96)
    ranking = _explain(analyzer, metal, "metal").map[:frames].reshape(patches.shape)

    def mean_score(x: np.ndarray) -> float:
        with torch.no_grad():
            return float(torch.sigmoid(label_logit(net(torch.from_numpy(x)).logits, [index])).mean())

    def blanked(rank: np.ndarray) -> np.ndarray:
        count = round(0.10 * 187 * 96)
        flat = patches.reshape(len(patches), -1).copy()
        top = np.argsort(-rank.reshape(len(patches), -1), axis=1)[:, :count]
        np.put_along_axis(flat, top, 0.0, axis=1)  # log-mel 0 = silence
        return flat.reshape(patches.shape)

    rng = np.random.default_rng(0)
    base = mean_score(patches)
    drop_by_map = base - mean_score(blanked(ranking))
    random_drops = []
    for _ in range(3):  # random 16-frame × 8-band regions, as in bench/bench_faithfulness.py
        coarse = rng.random((len(patches), 12, 12))
        regions = np.repeat(np.repeat(coarse, 16, axis=1), 8, axis=2)[:, :187, :96]
        random_drops.append(base - mean_score(blanked(regions + 1e-9 * rng.random(patches.shape))))
    assert drop_by_map > np.mean(random_drops)


def test_generic_gradcam_on_a_named_layer(analyzer, metal):
    explanation = _explain(analyzer, metal, "metal", method="gradcam@mid.conv3")
    assert explanation.map.shape == metal.spectrogram.shape
    assert np.isfinite(explanation.map).all() and explanation.map.max() == pytest.approx(1.0)
    # mid.conv3 is a map over time only: every band of a frame gets the frame's value.
    assert np.allclose(explanation.map, explanation.map[:, :1])


def test_explaining_works_inside_an_inference_mode_analysis_thread(analyzer, metal):
    with torch.inference_mode():
        explanation = _explain(analyzer, metal, "metal", method="gradcam@mid.conv3")
    assert explanation.map.max() == pytest.approx(1.0)


def test_unknown_layer_is_a_clear_error(analyzer, metal):
    with pytest.raises(ExplainError, match=r"'mid\.conv9': no such layer.*mid\.conv3"):
        _explain(analyzer, metal, "metal", method="gradcam@mid.conv9")


def test_unknown_label_and_method_are_clear_errors(analyzer, metal):
    with pytest.raises(ExplainError, match="not a label of model MSD_musicnn"):
        _explain(analyzer, metal, "polka-step")
    with pytest.raises(ExplainError, match="unknown method"):
        _explain(analyzer, metal, "metal", method="saliency-magic")


def test_cache_hit_returns_the_same_map_without_recomputing(analyzer, jazz, monkeypatch, tmp_path):
    calls = []
    compute = explain_api.compute_map

    def counting(*args, **kwargs):
        calls.append(args[3])
        return compute(*args, **kwargs)

    monkeypatch.setattr(explain_api, "compute_map", counting)
    on_disk = ExplanationCache(directory=tmp_path)
    first = _explain(analyzer, jazz, "Jazz", method="gradcam@mid.conv3", cache=on_disk)
    again = _explain(analyzer, jazz, "Jazz", method="gradcam@mid.conv3", cache=on_disk)
    assert len(calls) == 1 and again.map is first.map
    # A fresh cache on the same folder (the app restarted) reads the .npz instead of recomputing.
    reopened = _explain(
        analyzer, jazz, "Jazz", method="gradcam@mid.conv3", cache=ExplanationCache(directory=tmp_path)
    )
    assert len(calls) == 1 and np.array_equal(reopened.map, first.map)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    # Another label is another entry.
    _explain(analyzer, jazz, "Rock", method="gradcam@mid.conv3", cache=on_disk)
    assert len(calls) == 2


def test_sentence_names_a_span_inside_the_track_and_a_hz_range(analyzer, jazz):
    explanation = _explain(analyzer, jazz, "Jazz")
    sentence = describe(explanation, jazz.spectrogram, 16000, analyzer.cards[MODEL].mel)
    match = re.fullmatch(r"Jazz: strongest (\d+):(\d\d)–(\d+):(\d\d), (.+?)–(.+?) \((.+)\)", sentence)
    assert match, sentence
    start = int(match[1]) * 60 + int(match[2])
    stop = int(match[3]) * 60 + int(match[4])
    assert 0 <= start <= stop <= round(jazz.duration_s)

    def hz(text: str) -> float:
        value, unit = text.split()
        return float(value) * (1000 if unit == "kHz" else 1)

    low, high = hz(match[5]), hz(match[6])
    assert 0 <= low <= high <= 8000
    assert set(re.split(r" to ", match[7])) <= {
        "sub-bass",
        "bass",
        "low-mids",
        "mids",
        "upper mids",
        "presence",
        "brilliance",
    }
