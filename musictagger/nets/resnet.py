"""ResNet50_trust: torchvision's ResNet-50 reading a log-mel patch as a one-channel image.

Li et al. (Multimedia Tools and Applications 81(4), 2022) classify music by feeding spectrogram images to
ImageNet networks and found ResNet-50 trained with a "balanced trusted loss" best (the loss is in
:mod:`musictagger.research.losses`). Here the image is musicnn's input, so the app's analyser can run the
net unchanged: a ``(B, 187, 96)`` log-mel patch (3 s, time × mel) becomes a ``(B, 1, 96, 187)`` image with
frequency as height and time as width.

Module names (state-dict keys, hooks for Grad-CAM):

=================  ====================================================================================
``input_bn``       BatchNorm2d(1) on the raw log-mel (if ``input_norm``): learns the input scale instead
                   of depending on dataset statistics, as musicnn does.
``backbone``       torchvision ``resnet50(weights=None)`` with ``conv1`` taking 1 channel and ``fc``
                   removed; ``backbone.layer4`` is the last convolutional stage — (B, 2048, 3, 6).
``classifier``     ``Linear(2048 → n_labels)``, or a cosine classifier (``classifier.weight`` only):
                   logits ``s·cos θ`` between the L2-normalised feature and class weights, which the AMCM
                   margins of the loss need.
=================  ====================================================================================

``penultimate`` is the 2048-d globally average-pooled feature. No ImageNet weights ship (they cannot be
downloaded here); :func:`load_imagenet_weights` starts a net from a torchvision ImageNet file a user has.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn
from torchvision.models import resnet50

from musictagger.errors import ModelError
from musictagger.nets.outputs import ClassifierOutput

__all__ = [
    "ARCHITECTURE_NAME",
    "CLASSIFIERS",
    "EMBEDDING_DIM",
    "OUTPUT_WEIGHT",
    "CosineClassifier",
    "ImageNetLoadReport",
    "ResNetClassifier",
    "build",
    "load_imagenet_weights",
]

ARCHITECTURE_NAME = "resnet50_trust"
OUTPUT_WEIGHT = "classifier.weight"
EMBEDDING_DIM = 2048
CLASSIFIERS = ("linear", "cosine")
# CosFace / AM-Softmax use s = 30: with cosines in [−1, 1] the softmax needs a scale this large to get
# confident at all (s = 1 caps the target's probability near e²/(e² + C − 1)).
DEFAULT_SCALE = 30.0


class CosineClassifier(nn.Module):
    """``logits = s · cos θ`` between the L2-normalised feature and each class's L2-normalised weight."""

    def __init__(self, in_features: int, n_labels: int, scale: float = DEFAULT_SCALE):
        super().__init__()
        if scale <= 0:
            raise ValueError(f"cosine classifier scale must be positive, got {scale}")
        self.scale = float(scale)
        self.weight = nn.Parameter(torch.empty(n_labels, in_features))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.scale * F.linear(F.normalize(features, dim=1), F.normalize(self.weight, dim=1))


class ResNetClassifier(nn.Module):
    """ResNet-50 on ``(B, T, n_mels)`` log-mel patches → :class:`ClassifierOutput` (see module docstring).

    ``multilabel`` picks sigmoid probabilities (independent tags) over a softmax (one class per clip).
    ``scale`` is the cosine classifier's s (ignored by the linear one); the loss's margins must use it too.
    """

    def __init__(
        self,
        n_labels: int,
        multilabel: bool = False,
        classifier: str = "linear",
        scale: float = DEFAULT_SCALE,
        input_norm: bool = True,
    ):
        super().__init__()
        if n_labels < 1:
            raise ValueError(f"need at least one label, got {n_labels}")
        if classifier not in CLASSIFIERS:
            raise ValueError(f"unknown classifier {classifier!r} (allowed: {', '.join(CLASSIFIERS)})")
        self.multilabel = multilabel
        self.classifier_kind = classifier
        self.input_bn = nn.BatchNorm2d(1) if input_norm else nn.Identity()
        backbone = resnet50(weights=None)
        # Same geometry as ImageNet's conv1 (7×7, stride 2) so its weights can be adapted; one input channel.
        backbone.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(backbone.conv1.weight, mode="fan_out", nonlinearity="relu")
        backbone.fc = nn.Identity()  # the backbone ends at the 2048-d pooled feature
        self.backbone = backbone
        if classifier == "linear":
            self.classifier = nn.Linear(EMBEDDING_DIM, n_labels)
        else:
            self.classifier = CosineClassifier(EMBEDDING_DIM, n_labels, scale)

    def forward(self, patches: torch.Tensor) -> ClassifierOutput:
        if patches.ndim != 3:
            raise ValueError(
                f"expected (batch, frames, mels) log-mel patches, got shape {tuple(patches.shape)}"
            )
        image = patches.transpose(1, 2).unsqueeze(1)  # (B, 1, mels, frames): frequency is the height
        features = self.backbone(self.input_bn(image))
        logits = self.classifier(features)
        probs = torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, dim=1)
        return ClassifierOutput(logits=logits, probs=probs, penultimate=features)


def build(card) -> ResNetClassifier:
    """The net a card describes: ``config`` keys ``classifier`` ("linear" | "cosine", default linear),
    ``scale`` (cosine s, default 30) and ``input_norm`` (default true)."""
    config = dict(card.config)
    try:
        return ResNetClassifier(
            n_labels=len(card.labels),
            multilabel=card.task == "multilabel",
            classifier=str(config.get("classifier", "linear")),
            scale=float(config.get("scale", DEFAULT_SCALE)),
            input_norm=bool(config.get("input_norm", True)),
        )
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{card.folder / 'card.json'}: bad {ARCHITECTURE_NAME} config: {exc}") from exc


@dataclass(frozen=True)
class ImageNetLoadReport:
    """What :func:`load_imagenet_weights` did: the model keys it filled, the file keys it left out (with
    why) and the model keys it left at their initialisation."""

    path: Path
    loaded: tuple[str, ...]  # model state keys copied (or, for backbone.conv1.weight, adapted) from the file
    skipped: dict[str, str]  # file key -> why it was not used
    kept: tuple[str, ...]  # model state keys the file had nothing for (classifier, input norm, ...)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready summary for a card's provenance: counts and names, not the user's file path."""
        return {
            "loaded": len(self.loaded),
            "conv1": "RGB kernel summed over the colour channels",
            "skipped": dict(self.skipped),
            "kept": list(self.kept),
        }

    def __str__(self) -> str:
        skipped = ", ".join(f"{k} ({why})" for k, why in self.skipped.items()) or "nothing"
        return (
            f"{self.path}: loaded {len(self.loaded)} ImageNet tensors; skipped {skipped}; "
            f"{len(self.kept)} tensors keep their initialisation ({', '.join(self.kept)})"
        )


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelError(f"{path}: unreadable safetensors file ({exc})") from exc
    if suffix in (".pth", ".pt"):
        try:
            # weights_only: the unpickler accepts tensors and plain containers only, so a crafted file
            # cannot run code; anything else is refused here.
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"{path}: refused: holds more than tensors, so it is not a plain weights file ({first})"
            ) from exc
        except (OSError, RuntimeError, EOFError, ValueError) as exc:
            raise ModelError(f"{path}: unreadable PyTorch file ({' '.join(str(exc).split())})") from exc
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]  # a training checkpoint that wraps the weights
        if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
        ):
            raise ModelError(f"{path}: not a state dict (a mapping of names to tensors)")
        return state
    raise ModelError(f"{path}: expected a .safetensors, .pth or .pt file of torchvision ResNet-50 weights")


def load_imagenet_weights(model: ResNetClassifier, path: str | os.PathLike) -> ImageNetLoadReport:
    """Start ``model``'s backbone from a local file of torchvision's ``resnet50`` ImageNet weights.

    Reads ``.safetensors`` with safetensors, or ``.pth``/``.pt`` with ``torch.load(weights_only=True)``
    (never a full unpickle, which could run code from the file). Every backbone tensor must be in the
    file with torchvision's name and shape. conv1's RGB kernel is **summed** over the three colour
    channels: a grey image repeated in R, G and B gives the RGB net ``Σ_c W_c * x``, exactly what the
    summed kernel gives the one-channel image, so the activations bn1 was trained on keep their scale
    (averaging would divide them by 3). ImageNet's 1000-class ``fc`` is dropped; ``classifier`` and
    ``input_bn`` keep their initialisation. Raises :class:`ModelError` naming the file on any mismatch.
    """
    if not isinstance(model, ResNetClassifier):
        raise TypeError(f"expected a ResNetClassifier, got {type(model).__name__}")
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    source = _read_state(path)
    target = model.backbone.state_dict()

    skipped = {k: "ImageNet's 1000-class output layer" for k in source if k.split(".")[0] == "fc"}
    candidates = {k: v for k, v in source.items() if k not in skipped}
    if not any(k in target for k in candidates):
        examples = ", ".join(list(source)[:3]) or "no tensors at all"
        raise ModelError(f"{path}: not a torchvision ResNet-50 weights file (it holds {examples} ...)")

    # BatchNorm's batch counter is bookkeeping, absent from older torchvision files; keep ours if missing.
    missing = [k for k in target if k not in candidates and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in candidates if k not in target]
    wrong_shape = []
    adapted: dict[str, torch.Tensor] = {}
    for key, tensor in candidates.items():
        if key not in target:
            continue
        want = target[key].shape
        if key == "conv1.weight" and tensor.ndim == 4 and tensor.shape[1] == 3 and want[1] == 1:
            tensor = tensor.sum(dim=1, keepdim=True)
        if tensor.shape != want:
            wrong_shape.append(f"{key} {tuple(tensor.shape)} (need {tuple(want)})")
            continue
        adapted[key] = tensor.to(target[key].dtype)
    problems = []
    if missing:
        problems.append(f"lacks {len(missing)} ResNet-50 tensors ({', '.join(missing[:3])} ...)")
    if unexpected:
        problems.append(f"has {len(unexpected)} tensors ResNet-50 lacks ({', '.join(unexpected[:3])} ...)")
    if wrong_shape:
        problems.append(f"has {len(wrong_shape)} wrongly shaped tensors ({', '.join(wrong_shape[:3])} ...)")
    if problems:
        raise ModelError(f"{path}: not torchvision ResNet-50 ImageNet weights: {'; '.join(problems)}")

    with torch.no_grad():
        model.backbone.load_state_dict({**target, **adapted}, strict=True)
    loaded = tuple(f"backbone.{k}" for k in adapted)
    kept = tuple(
        k for k in model.state_dict() if k not in set(loaded) and not k.endswith("num_batches_tracked")
    )
    return ImageNetLoadReport(path=path, loaded=loaded, skipped=skipped, kept=kept)
