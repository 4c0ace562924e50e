"""The research nets: shapes, the parallel CNN's middle-level interaction, learning, and save/load."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from musictagger import catalog
from musictagger.audio import load_audio
from musictagger.errors import ModelError
from musictagger.nets import emotion_cnn, parallel_cnn
from musictagger.nets.emotion_cnn import EmotionCNN
from musictagger.nets.parallel_cnn import INTERACTIONS, ParallelCNN
from musictagger.research.features import FRAMES_PER_PATCH, N_FEATURES, patch_features
from musictagger.spectrogram import MUSICNN_MEL, LogMelSpectrogram

SR = 16000
P = 187
# Small widths keep the learning tests to a few seconds on a shared CPU; the shape tests use the defaults.
SMALL_PARALLEL = {
    "visual_channels": [8, 16, 16],
    "audio_channels": [16, 16],
    "interaction_after": 0,
    "bridge_channels": 4,
    "dense_units": 32,
}
SMALL_EMOTION = {"channels": [8, 16, 16], "dense_units": 32}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The test machines' cores are shared: two torch threads fighting other jobs run several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def inputs(batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (mel, features) batches in the nets' input layout, for tests of wiring rather than learning."""
    g = torch.Generator().manual_seed(seed)
    mel = torch.rand(batch, P, 96, generator=g) * 3  # log10(10000x+1) of music lies in about 0..4
    features = torch.randn(batch, FRAMES_PER_PATCH, N_FEATURES, generator=g)
    return mel, features


def output_of(
    model: torch.nn.Module, module_path: str, mel: torch.Tensor, features: torch.Tensor
) -> torch.Tensor:
    """The activation of one named submodule, read with a forward hook."""
    seen = {}
    handle = dict(model.named_modules())[module_path].register_forward_hook(
        lambda _m, _i, out: seen.setdefault("out", out.detach().clone())
    )
    try:
        with torch.no_grad():
            model(mel, features)
    finally:
        handle.remove()
    return seen["out"]


# --- shapes and outputs -------------------------------------------------------------------------------


@pytest.mark.parametrize("interaction", INTERACTIONS)
def test_parallel_cnn_shapes_in_every_interaction_mode(interaction):
    torch.manual_seed(0)
    model = ParallelCNN(10, interaction=interaction).eval()
    mel, features = inputs(3)
    out = model(mel, features)
    assert out.logits.shape == out.probs.shape == (3, 10)
    assert out.penultimate.shape == (3, 128)
    assert torch.allclose(out.probs.sum(dim=1), torch.ones(3), atol=1e-6)
    # small enough to train on a CPU
    assert 100_000 < sum(p.numel() for p in model.parameters()) < 400_000
    # Grad-CAM's layer: the last visual conv's activations, still (channels, mel rows, time columns)
    assert model.gradcam_layer is dict(model.named_modules())[model.gradcam_layer_name()]
    assert output_of(model, model.gradcam_layer_name(), mel, features).shape == (3, 128, 12, 23)


def test_parallel_cnn_refuses_inputs_that_do_not_fit():
    model = ParallelCNN(4, interaction="none")
    mel, features = inputs(2)
    with pytest.raises(ValueError, match="features"):
        model(mel, features[..., :-1])
    with pytest.raises(ValueError, match="mel"):
        model(mel[..., :64], features)
    with pytest.raises(ValueError, match="2 mel patches but 1"):
        model(mel, features[:1])
    with pytest.raises(ValueError, match="interaction"):
        ParallelCNN(4, interaction="sideways")


def test_multilabel_outputs_are_independent_sigmoids():
    torch.manual_seed(0)
    mel, features = inputs(4)
    for out in (
        ParallelCNN(5, interaction="two_way", multilabel=True).eval()(mel, features),
        EmotionCNN(5).eval()(mel),
    ):
        assert out.probs.shape == (4, 5)
        assert torch.allclose(out.probs, torch.sigmoid(out.logits))
        assert not torch.allclose(out.probs.sum(dim=1), torch.ones(4), atol=1e-2)
    single = EmotionCNN(4, multilabel=False).eval()(mel)
    assert torch.allclose(single.probs.sum(dim=1), torch.ones(4), atol=1e-6)
    assert EmotionCNN(18).eval()(mel).penultimate.shape == (4, 128)


# --- the middle-level interaction changes what each branch computes ----------------------------------


@pytest.mark.parametrize(
    ("interaction", "audio_reaches_visual", "visual_reaches_audio"),
    [
        ("none", False, False),
        ("audio_to_visual", True, False),
        ("visual_to_audio", False, True),
        ("two_way", True, True),
    ],
)
def test_interaction_routes_one_branchs_mid_features_into_the_other(
    interaction, audio_reaches_visual, visual_reaches_audio
):
    torch.manual_seed(0)
    model = ParallelCNN(6, interaction=interaction).eval()
    mel, features = inputs(2, seed=1)
    other_mel, other_features = inputs(2, seed=2)
    after = f"blocks.{model.interaction_after + 1}"  # the first block that receives the other branch

    visual = output_of(model, f"visual.{after}", mel, features)
    visual_other_features = output_of(model, f"visual.{after}", mel, other_features)
    assert (not torch.allclose(visual, visual_other_features)) == audio_reaches_visual

    audio = output_of(model, f"audio.{after}", mel, features)
    audio_other_mel = output_of(model, f"audio.{after}", other_mel, features)
    assert (not torch.allclose(audio, audio_other_mel)) == visual_reaches_audio

    # Before the exchange each branch sees only its own input, whatever the mode.
    early = f"blocks.{model.interaction_after}"
    assert torch.equal(
        output_of(model, f"visual.{early}", mel, features),
        output_of(model, f"visual.{early}", mel, other_features),
    )
    # ...and the fused decision always depends on both inputs.
    with torch.no_grad():
        assert not torch.allclose(model(mel, features).logits, model(mel, other_features).logits)
        assert not torch.allclose(model(mel, features).logits, model(other_mel, features).logits)


# --- learning on real (synthetic) audio through the real front ends ----------------------------------


def clip_inputs(tmp_path: Path, name: str, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One 3-s clip → (mel patch (187, 96), features (94, N)), written, decoded and analysed like a
    user's file."""
    path = tmp_path / f"{name}.wav"
    sf.write(path, samples.astype(np.float32), SR, subtype="FLOAT")
    y = load_audio(path, SR)
    mel = LogMelSpectrogram()(y)[:P].numpy()
    return mel, patch_features(y, SR)[0]


@pytest.fixture(scope="module")
def tone_and_noise_clips(tmp_path_factory):
    """Clips tagged ("tone", "noise"): a sine, white noise, or both mixed; frequencies and seeds vary."""
    folder = tmp_path_factory.mktemp("clips")
    t = np.arange(3 * SR) / SR
    rng = np.random.default_rng(0)
    mels, feats, tags = [], [], []
    for i, freq in enumerate([220.0, 523.0, 880.0, 330.0]):
        tone = 0.4 * np.sin(2 * np.pi * freq * t)
        noise = 0.2 * rng.standard_normal(len(t))
        for kind, samples, target in (
            ("tone", tone, [1, 0]),
            ("noise", noise, [0, 1]),
            ("both", 0.6 * tone + 0.6 * noise, [1, 1]),
        ):
            mel, features = clip_inputs(folder, f"{kind}{i}", samples)
            mels.append(mel)
            feats.append(features)
            tags.append(target)
    return (
        torch.tensor(np.stack(mels)),
        torch.tensor(np.stack(feats)),
        torch.tensor(tags, dtype=torch.float32),
    )


def fit(model: torch.nn.Module, forward, loss_fn, steps: int) -> list[float]:
    """``steps`` Adam steps on one batch; then the model is put in eval mode with settled batch norms."""
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    model.train()
    for _ in range(steps):
        optimiser.zero_grad()
        loss = loss_fn(forward().logits)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    # A few steps leave the running batch-norm statistics mostly at their initial 0/1, which epochs of
    # training would have replaced: set them to the batch's own statistics so eval mode is meaningful.
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # cumulative average: one pass gives exactly this batch's statistics
    with torch.no_grad():
        forward()
    model.eval()
    return losses


def test_parallel_cnn_learns_tones_from_noise(tone_and_noise_clips):
    mel, features, tags = tone_and_noise_clips
    single = tags.sum(dim=1) == 1  # the 2-class problem: pure tones (0) against pure noise (1)
    mel, features, classes = mel[single], features[single], tags[single].argmax(dim=1)
    torch.manual_seed(0)
    model = ParallelCNN(2, interaction="two_way", **SMALL_PARALLEL)
    losses = fit(model, lambda: model(mel, features), lambda logits: F.cross_entropy(logits, classes), 15)
    assert losses[-1] < 0.2 * losses[0]
    with torch.no_grad():
        assert torch.equal(model(mel, features).probs.argmax(dim=1), classes)


def test_emotion_cnn_learns_overlapping_tags(tone_and_noise_clips):
    mel, _features, tags = tone_and_noise_clips
    torch.manual_seed(0)
    model = EmotionCNN(2, **SMALL_EMOTION)
    losses = fit(
        model, lambda: model(mel), lambda logits: F.binary_cross_entropy_with_logits(logits, tags), 20
    )
    assert losses[-1] < 0.3 * losses[0]
    with torch.no_grad():
        predicted = (model(mel).probs > 0.5).float()
    assert torch.equal(predicted, tags)  # the mixed clips get both tags


# --- save through the catalog, load back by name ------------------------------------------------------


def card_dict(name: str, architecture: str, task: str, labels: list[str], config: dict) -> dict:
    return {
        "name": name,
        "architecture": architecture,
        "version": "0.1",
        "task": task,
        "labels": labels,
        "categories": {label: "genre" if task == "multiclass" else "mood" for label in labels},
        "sample_rate": SR,
        "mel": dict(MUSICNN_MEL),
        "patch_frames": P,
        "patch_hop_frames": P,
        "embedding_dim": config.get("dense_units", 128),
        "licence": "trained by the user",
        "provenance": {"dataset": "synthetic tones and noise (test)"},
        "reported_metrics": {},
        "config": config,
    }


@pytest.fixture
def registered():
    for module in (parallel_cnn, emotion_cnn):
        catalog.register_architecture(
            module.ARCHITECTURE_NAME,
            catalog.Architecture(build=module.build, output_weight=module.OUTPUT_WEIGHT),
        )


def trained_a_little(model: torch.nn.Module, *inputs: torch.Tensor) -> torch.nn.Module:
    """Two steps, so the weights and batch-norm statistics that must survive the round trip are not a
    fresh model's."""
    torch.manual_seed(1)
    fit(model, lambda: model(*inputs), lambda logits: logits.pow(2).mean(), 2)
    return model


def test_parallel_cnn_saves_and_loads_by_name(registered):
    config = {"interaction": "visual_to_audio", **SMALL_PARALLEL}
    card = card_dict("my_genres", "parallel_cnn", "multiclass", ["blues", "jazz", "metal"], config)
    torch.manual_seed(0)
    mel, features = inputs(3)
    model = trained_a_little(ParallelCNN(3, **config), mel, features)
    catalog.save_model(catalog.user_models_dir() / "my_genres", card, model.state_dict())

    loaded, loaded_card = catalog.load_model("my_genres")
    assert isinstance(loaded, ParallelCNN) and loaded.interaction == "visual_to_audio" and not loaded.training
    assert loaded_card.config["interaction"] == "visual_to_audio"
    with torch.no_grad():
        expected, got = model(mel, features), loaded(mel, features)
    assert torch.equal(expected.logits, got.logits) and torch.equal(expected.penultimate, got.penultimate)


def test_a_card_whose_interaction_does_not_match_the_weights_is_refused(registered):
    torch.manual_seed(0)
    model = ParallelCNN(2, interaction="audio_to_visual", **SMALL_PARALLEL)
    card = card_dict(
        "mismatch", "parallel_cnn", "multiclass", ["a", "b"], {"interaction": "none", **SMALL_PARALLEL}
    )
    catalog.save_model(catalog.user_models_dir() / "mismatch", card, model.state_dict())
    with pytest.raises(ModelError, match="bridge_audio_to_visual"):
        catalog.load_model("mismatch")


def test_emotion_cnn_saves_and_loads_by_name(registered):
    labels = ["angry", "calm", "happy", "sad"]
    card = card_dict("my_moods", "emotion_cnn", "multilabel", labels, SMALL_EMOTION)
    torch.manual_seed(0)
    mel, _ = inputs(3)
    model = trained_a_little(EmotionCNN(4, **SMALL_EMOTION), mel)
    catalog.save_model(catalog.user_models_dir() / "my_moods", card, model.state_dict())

    loaded, loaded_card = catalog.load_model("my_moods")
    assert isinstance(loaded, EmotionCNN) and loaded.multilabel and loaded_card.labels == tuple(labels)
    with torch.no_grad():
        assert torch.equal(model(mel).probs, loaded(mel).probs)


def test_the_nets_default_feature_count_is_the_feature_extractors():
    from musictagger.nets.parallel_cnn import DEFAULT_N_FEATURES
    from musictagger.research.features import N_FEATURES

    assert DEFAULT_N_FEATURES == N_FEATURES
