"""ResNet50_trust reads musicnn's log-mel patches, trains with the balanced trusted loss, survives the model
store's save → load round trip unchanged, and starts from a user's local ImageNet file only if it really is
torchvision ResNet-50 weights — a pickle that would run code is refused without running it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import torchvision
from conftest import METAL
from safetensors.torch import save_file

from musictagger import catalog
from musictagger.audio import load_audio
from musictagger.errors import ModelError
from musictagger.nets import resnet
from musictagger.nets.outputs import ClassifierOutput
from musictagger.nets.resnet import ResNetClassifier, load_imagenet_weights
from musictagger.research.losses import BalancedTrustedLoss
from musictagger.spectrogram import LogMelSpectrogram

PATCH = 187
MSD_WEIGHTS = catalog.models_dir() / "MSD_musicnn" / "weights.safetensors"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """On shared cores two threads contend so badly that a ResNet-50 step is ~5× slower than with one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def patches():
    """The first two 3-s log-mel patches of a real metal track, exactly as the analyser feeds musicnn."""
    mel = LogMelSpectrogram()(load_audio(METAL))
    return mel[: 2 * PATCH].reshape(2, PATCH, mel.shape[1]).float()


@pytest.fixture(scope="module")
def imagenet_state():
    """A real torchvision ResNet-50 state dict (random init: the real ImageNet file cannot be downloaded
    here, but names, shapes and the 1000-class fc are exactly those of torchvision's)."""
    torch.manual_seed(0)
    return torchvision.models.resnet50(weights=None).state_dict()


@pytest.fixture(scope="module")
def imagenet_file(imagenet_state, tmp_path_factory):
    path = tmp_path_factory.mktemp("imagenet") / "resnet50_imagenet.safetensors"
    save_file({k: v.contiguous() for k, v in imagenet_state.items()}, str(path))
    return path


def _card(name="metal_resnet", labels=("metal", "jazz", "pop"), task="multiclass", config=None):
    return {
        "name": name,
        "architecture": resnet.ARCHITECTURE_NAME,
        "version": "1.0",
        "task": task,
        "labels": list(labels),
        "categories": dict.fromkeys(labels, "genre"),
        "sample_rate": 16000,
        "mel": {"n_fft": 512, "hop_length": 256, "n_mels": 96},
        "patch_frames": PATCH,
        "patch_hop_frames": PATCH,
        "embedding_dim": resnet.EMBEDDING_DIM,
        "licence": "trained by the user",
        "provenance": {"dataset": "test"},
        "reported_metrics": {},
        "config": config or {},
    }


def test_single_label_net_gives_a_softmax_per_patch(patches):
    torch.manual_seed(0)
    model = ResNetClassifier(n_labels=4).eval()
    with torch.inference_mode():
        out = model(patches)
    assert isinstance(out, ClassifierOutput)
    assert out.logits.shape == out.probs.shape == (2, 4)
    assert out.penultimate.shape == (2, resnet.EMBEDDING_DIM)
    assert torch.allclose(out.probs.sum(1), torch.ones(2), atol=1e-6)
    assert torch.allclose(out.probs, torch.softmax(out.logits, 1))
    assert not torch.equal(out.logits[0], out.logits[1])  # two different 3 s of music, two answers


def test_multilabel_cosine_net_gives_independent_sigmoids_bounded_by_its_scale(patches):
    torch.manual_seed(0)
    model = ResNetClassifier(n_labels=3, multilabel=True, classifier="cosine", scale=12.0).eval()
    with torch.inference_mode():
        out = model(patches)
    assert torch.allclose(out.probs, torch.sigmoid(out.logits))
    assert out.logits.abs().max() <= 12.0 + 1e-4  # logits are s·cos θ
    assert set(dict(model.named_parameters())) >= {resnet.OUTPUT_WEIGHT}
    assert "classifier.bias" not in model.state_dict()


def test_trains_with_amcm_loss_and_survives_the_model_store_round_trip(patches, tmp_path, monkeypatch):
    catalog.register_architecture(
        resnet.ARCHITECTURE_NAME,
        catalog.Architecture(build=resnet.build, output_weight=resnet.OUTPUT_WEIGHT),
    )
    card = _card(config={"classifier": "cosine", "scale": 16.0})
    torch.manual_seed(0)
    model = resnet.build(catalog.ModelCard(**{**card, "labels": tuple(card["labels"])}, folder=tmp_path))
    target = torch.tensor([0, 1])
    loss_fn = BalancedTrustedLoss(alpha=1.0, beta=0.5, margin_angle=0.2, margin_cos=0.1, scale=16.0)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for _ in range(2):
        optimiser.zero_grad()
        loss = loss_fn(model(patches).logits, target)
        loss.backward()
        assert model.backbone.conv1.weight.grad.abs().sum() > 0  # the loss reaches the first layer
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses

    model.eval()
    with torch.inference_mode():
        before = model(patches)
    monkeypatch.setenv("MUSICTAGGER_MODELS", str(tmp_path / "shipped"))
    catalog.save_model(catalog.user_models_dir() / card["name"], card, model.state_dict())
    loaded, loaded_card = catalog.load_model(card["name"])
    assert loaded_card.config["classifier"] == "cosine"
    with torch.inference_mode():
        after = loaded(patches)
    for field in ClassifierOutput._fields:
        assert torch.equal(getattr(before, field), getattr(after, field)), field

    # a card whose labels do not match the weights is reported as such
    folder = catalog.user_models_dir() / card["name"]
    bad = json.loads((folder / "card.json").read_text())
    bad["labels"].append("folk")
    bad["categories"]["folk"] = "genre"
    (folder / "card.json").write_text(json.dumps(bad))
    with pytest.raises(ModelError, match="3 outputs but the card lists 4 labels"):
        catalog.load_model(card["name"])


def test_a_card_with_an_unknown_classifier_is_a_model_error(tmp_path):
    card = _card(config={"classifier": "attention"})
    with pytest.raises(ModelError, match="unknown classifier 'attention'"):
        resnet.build(catalog.ModelCard(**{**card, "labels": tuple(card["labels"])}, folder=tmp_path))


def _check_imagenet_copied(model, state, report):
    rgb = state["conv1.weight"]
    assert torch.equal(model.backbone.conv1.weight, rgb.sum(dim=1, keepdim=True))
    for key in (
        "layer4.2.conv3.weight",
        "layer2.1.bn2.running_var",
        "bn1.bias",
        "layer3.0.downsample.0.weight",
    ):
        assert torch.equal(model.backbone.state_dict()[key], state[key]), key
    assert set(report.skipped) == {"fc.weight", "fc.bias"}
    backbone_keys = {f"backbone.{k}" for k in model.backbone.state_dict()}
    assert set(report.loaded) <= backbone_keys
    assert {k for k in backbone_keys - set(report.loaded) if not k.endswith("num_batches_tracked")} == set()
    assert "classifier.weight" in report.kept and "input_bn.weight" in report.kept


def test_imagenet_safetensors_file_starts_the_backbone(imagenet_state, imagenet_file, patches):
    torch.manual_seed(1)
    model = ResNetClassifier(n_labels=5)
    classifier_before = model.classifier.weight.detach().clone()
    report = load_imagenet_weights(model, imagenet_file)
    _check_imagenet_copied(model, imagenet_state, report)
    assert torch.equal(model.classifier.weight, classifier_before)  # ImageNet's fc is not our classifier
    assert "loaded 318" in str(report) and "fc.weight" in str(report)
    summary = json.loads(json.dumps(report.as_dict()))  # goes into a card's provenance as JSON
    assert summary["loaded"] == 318 and "classifier.weight" in summary["kept"]
    assert str(imagenet_file.parent) not in json.dumps(summary)  # no user path in a shareable card


def test_imagenet_pth_file_is_read_weights_only(imagenet_state, tmp_path):
    # older torchvision files lack BatchNorm's num_batches_tracked: they must load too
    state = {k: v for k, v in imagenet_state.items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "resnet50-0676ba61.pth"
    torch.save(state, path)
    model = ResNetClassifier(n_labels=2)
    report = load_imagenet_weights(model, path)
    _check_imagenet_copied(model, imagenet_state, report)
    assert len(report.loaded) == 265  # 318 minus the 53 batch counters


class _RunsCodeWhenUnpickled:
    """What a malicious .pth could hold: unpickling it would call open(marker, "w")."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pth_that_would_run_code_is_refused_without_running_it(imagenet_state, tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "resnet50.pth"
    torch.save({**imagenet_state, "conv1.weight": _RunsCodeWhenUnpickled(marker)}, path)
    model = ResNetClassifier(n_labels=2)
    before = model.backbone.conv1.weight.detach().clone()
    with pytest.raises(ModelError, match="refused") as error:
        load_imagenet_weights(model, path)
    assert str(path) in str(error.value)
    assert not marker.exists()
    assert torch.equal(model.backbone.conv1.weight, before)


def test_wrong_files_are_clear_model_errors(imagenet_state, tmp_path):
    model = ResNetClassifier(n_labels=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}

    musicnn = tmp_path / "weights.safetensors"
    shutil.copy(MSD_WEIGHTS, musicnn)
    random_tensors = tmp_path / "random.safetensors"
    save_file({"weight": torch.randn(3, 3)}, str(random_tensors))
    resnet18 = tmp_path / "resnet18.safetensors"
    save_file(torchvision.models.resnet18(weights=None).state_dict(), str(resnet18))
    one_bad = tmp_path / "one_bad.safetensors"
    save_file({**imagenet_state, "layer1.0.conv1.weight": torch.zeros(64, 64, 3, 3)}, str(one_bad))
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"these are not weights")
    onnx = tmp_path / "resnet50.onnx"
    onnx.write_bytes(b"\x08\x07")
    not_a_state_dict = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), not_a_state_dict)

    cases = {
        musicnn: "not a torchvision ResNet-50 weights file .*front",
        random_tensors: "not a torchvision ResNet-50 weights file .*weight",
        resnet18: "not torchvision ResNet-50 ImageNet weights: lacks .*wrongly shaped",
        one_bad: r"wrongly shaped tensors \(layer1\.0\.conv1\.weight \(64, 64, 3, 3\) \(need \(64, 64, 1, 1",
        garbage: "unreadable safetensors file",
        onnx: "expected a .safetensors, .pth or .pt file",
        not_a_state_dict: "not a state dict",
        tmp_path / "missing.safetensors": "no such file",
    }
    for path, message in cases.items():
        with pytest.raises(ModelError, match=message) as error:
            load_imagenet_weights(model, path)
        assert str(error.value).startswith(str(path)), error.value
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # a refused file changes nothing
    assert np.isfinite(model.backbone.conv1.weight.detach().numpy()).all()
