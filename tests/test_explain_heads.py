"""Labels fed by heads (genre families, DJ moods, energy, valence) explained through the head and its
taggers, on a real excerpt with the shipped models and heads."""

import copy
import dataclasses
import re

import numpy as np
import pytest
import torch

from musictagger.explain import (
    LOWERS,
    ExplainError,
    ExplanationCache,
    HeadNet,
    describe,
    explain,
    head_net,
    resolve,
)
from musictagger.explain import api as explain_api
from musictagger.heads.model import EmbeddingHead, head_input
from tests.conftest import METAL

DJ_MOODS = ("Happy", "Euphoric", "Dark", "Aggressive", "Melancholic", "Chill", "Romantic", "Party")
SHORT = 2 * 187  # frames: 6 s, where a test needs a map but not the whole excerpt
SENTENCE = r"{}: strongest (\d+):(\d\d)–(\d+):(\d\d), .+ k?Hz \(.+\)"


@pytest.fixture(scope="module")
def metal(analyzer):
    return analyzer.analyse_file(METAL, keep_spectrogram=True)


def _analysed_patches(analysis) -> torch.Tensor:
    """The patches the analysis averaged: consecutive 187-frame slices, the partial last one dropped."""
    n = len(analysis.patch_starts_s)
    return torch.from_numpy(np.ascontiguousarray(analysis.spectrogram[: n * 187].reshape(n, 187, 96)))


@pytest.mark.parametrize("head_name", ["dj_moods", "genres", "energy_valence"])
def test_per_patch_head_logits_average_to_the_heads_track_logit(analyzer, metal, head_name):
    net = head_net(analyzer, head_name)
    head, card = analyzer.heads[head_name]
    with torch.no_grad():
        per_patch = net(_analysed_patches(metal)).logits[:, : len(card.labels)]
        track = head(torch.from_numpy(head_input(card, metal.models))[None])[0]
        # The check can fail: the same features concatenated in the other model order give other logits.
        swapped = head(
            torch.from_numpy(head_input(dataclasses.replace(card, inputs=card.inputs[::-1]), metal.models))[
                None
            ]
        )[0]
    assert len(per_patch) == len(metal.patch_starts_s) > 1
    assert torch.allclose(per_patch.mean(dim=0), track, atol=1e-4), (per_patch.mean(dim=0), track)
    assert (swapped - track).abs().max() > 1e-2
    assert not torch.allclose(per_patch[0], per_patch[1])  # the patches differ: a real per-patch signal


@pytest.mark.parametrize("label", DJ_MOODS)
def test_every_dj_mood_resolves_to_its_head_and_gets_a_map(analyzer, metal, vocabulary, label):
    source = resolve(label, metal, vocabulary)
    assert source.source == "dj_moods" and source.head and source.label == label
    spectrogram = metal.spectrogram[:SHORT]  # eight moods, each a backward pass through two taggers
    explanation = explain(
        analyzer,
        spectrogram,
        source.source,
        source.label,
        cache=ExplanationCache(),
        vocabulary=vocabulary,
    )
    assert explanation.map.shape == spectrogram.shape
    assert np.isfinite(explanation.map).all() and explanation.map.max() == pytest.approx(1.0)
    assert explanation.head == "dj_moods" and explanation.models == ("MSD_musicnn", "MTT_musicnn")
    assert explanation.label == label and explanation.tags == (label,) and not explanation.direction
    sentence = describe(explanation, spectrogram, mel=analyzer.cards["MSD_musicnn"].mel)
    assert re.fullmatch(SENTENCE.format(label), sentence), sentence


def test_energy_and_valence_explain_what_raises_and_what_lowers_the_value(analyzer, metal, vocabulary):
    energy, valence = (float(v) for v in metal.heads["energy_valence"].probs)
    maps = {}
    for output, value in (("energy", energy), ("valence", valence), ("valence" + LOWERS, valence)):
        source = resolve(output, metal, vocabulary)
        assert source.source == "energy_valence" and source.head
        explanation = explain(
            analyzer, metal.spectrogram, source.source, source.label, cache=ExplanationCache()
        )
        assert np.isfinite(explanation.map).all() and explanation.map.max() == pytest.approx(1.0)
        maps[output] = explanation.map
        sentence = describe(explanation, metal.spectrogram, value=value)
        if output == "energy":
            assert explanation.label == "Energy" and explanation.value_range == (1.0, 10.0)
            assert sentence.startswith(f"Energy {energy:.1f} (what raises it): strongest "), sentence
        else:
            direction = "lowers" if output.endswith(LOWERS) else "raises"
            assert explanation.label == "Valence" and explanation.direction == direction
            assert sentence.startswith(f"Valence {valence:+.2f} (what {direction} it): strongest "), sentence
    # What lowers valence is not what raises it: the negated output has its own evidence.
    assert np.abs(maps["valence"] - maps["valence" + LOWERS]).mean() > 0.01


def test_styles_stay_on_raw_tags_and_genre_families_go_through_their_head(metal, vocabulary):
    assert resolve("Metal", metal, vocabulary) == resolve("metal", metal, vocabulary)
    metal_source = resolve("Metal", metal, vocabulary)
    assert not metal_source.head and metal_source.source in ("MSD_musicnn", "MTT_musicnn")
    rock = resolve("Rock", metal, vocabulary)
    assert rock.source == "genres" and rock.head and rock.label == "Rock"
    guitar = resolve("guitar", metal, vocabulary)
    assert guitar.source == "MTT_musicnn" and not guitar.head


def test_unknown_labels_are_clear_errors(analyzer, metal, vocabulary):
    with pytest.raises(ExplainError, match="'Polka': not a label of this track"):
        resolve("Polka", metal, vocabulary)
    with pytest.raises(ExplainError, match=r"'Polka': not a label of head dj_moods \(labels: Happy, "):
        explain(analyzer, metal.spectrogram, "dj_moods", "Polka", cache=ExplanationCache())
    with pytest.raises(ExplainError, match="head 'no_such_head' is not loaded"):
        explain_api.head_net(analyzer, "no_such_head")


def test_the_cache_key_names_the_head_and_its_version(analyzer, metal, monkeypatch):
    calls = []
    compute = explain_api.compute_map

    def counting(*args, **kwargs):
        calls.append(args[2])
        return compute(*args, **kwargs)

    monkeypatch.setattr(explain_api, "compute_map", counting)
    cache = ExplanationCache()
    net = head_net(analyzer, "dj_moods")
    first = explain(net, metal.spectrogram[:SHORT], "dj_moods", "Dark", cache=cache, track_key="t")
    assert (
        explain(net, metal.spectrogram[:SHORT], "dj_moods", "Dark", cache=cache, track_key="t").map
        is first.map
    )
    assert len(calls) == 1
    head, card = analyzer.heads["dj_moods"]
    taggers = {m: analyzer.model(m) for m in card.inputs}
    retrained = HeadNet(head, dataclasses.replace(card, version=card.version + "-retrained"), taggers)
    explain(retrained, metal.spectrogram[:SHORT], "dj_moods", "Dark", cache=cache, track_key="t")
    assert len(calls) == 2  # a new head version never serves the old map
    # A head retrained under the same name and card version (a user's "Learn my moods") is another entry too.
    relearned = copy.deepcopy(head)
    with torch.no_grad():
        relearned.classifier[0].bias += 0.5
    explain(
        HeadNet(relearned, card, taggers),
        metal.spectrogram[:SHORT],
        "dj_moods",
        "Dark",
        cache=cache,
        track_key="t",
    )
    assert len(calls) == 3
    # The version names the head's card version and weights, and each tagger's version.
    assert head_net(analyzer, "dj_moods").version.startswith(card.version + "#")
    assert "[MSD_musicnn=1.0,MTT_musicnn=1.0]" in head_net(analyzer, "dj_moods").version


def test_a_head_with_a_hidden_layer_is_explained_as_an_approximation(analyzer, metal):
    head, card = analyzer.heads["dj_moods"]
    torch.manual_seed(0)
    hidden = EmbeddingHead(card.input_dim, len(card.labels), hidden=16).eval()
    hidden.load_state_dict(
        {**hidden.state_dict(), "feature_mean": head.feature_mean, "feature_std": head.feature_std}
    )
    net = HeadNet(hidden, dataclasses.replace(card, hidden=16), {m: analyzer.model(m) for m in card.inputs})
    assert net.approximate
    explanation = explain(net, metal.spectrogram[:SHORT], "dj_moods", "Dark", cache=ExplanationCache())
    assert explanation.approximate
    sentence = describe(explanation, metal.spectrogram[:SHORT])
    assert sentence.startswith("Dark: ") and sentence.endswith(
        "(per-patch approximation of a non-linear head)"
    )


def test_a_head_whose_taggers_have_different_front_ends_is_refused(analyzer):
    head, card = analyzer.heads["dj_moods"]
    msd, mtt = (analyzer.model(m) for m in card.inputs)
    other_mel = dataclasses.replace(mtt[1], mel={**mtt[1].mel, "hop_length": 512})
    with pytest.raises(ExplainError, match="different front ends"):
        HeadNet(head, card, {"MSD_musicnn": msd, "MTT_musicnn": (mtt[0], other_mel)})


def test_the_frequency_resolved_cam_hooks_every_tagger_of_a_head(analyzer, metal):
    net = head_net(analyzer, "dj_moods")
    explanation = explain(
        net, metal.spectrogram[:187], "dj_moods", "Chill", method="hirescam", cache=ExplanationCache()
    )
    assert explanation.map.shape == (187, 96) and explanation.map.max() == pytest.approx(1.0)
    assert float(explanation.map.std(axis=1).mean()) > 1e-3  # resolved over the mel bands, not time only
