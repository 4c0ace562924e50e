"""A head's evidence per patch: its input taggers and the head itself as one network over log-mel patches.

A head reads, per input model in its card's order, the track-level **mean** over patches of the model's
200-d penultimate features (and, with ``features = "embedding+scores"``, of its per-patch tag
probabilities), standardises that vector and applies a linear layer (calibration is folded into the
weights: ``heads.model.head_from_linear``). Standardising and a linear layer are affine, and an affine map
commutes with the mean, so for a linear head

    head_logit(mean over patches of features(patch)) = mean over patches of head_logit(features(patch))

exactly. ``HeadNet`` computes the right-hand side's terms: one head logit per patch, whose average over
the analysed patches is the track's logit. An attribution of a patch's logit is therefore a share of the
track's score, and the explanation methods (which read ``net(patches).logits``) work unchanged.

For a head with a hidden layer (ReLU) the identity does not hold: its per-patch logits are an
approximation of what the head makes of the whole track. ``HeadNet.approximate`` says so, and the
explanation's sentence repeats it.

A regression head (energy, valence) has values, not logits: the per-patch value is explained, and the map
shows what **raises** it. For each regression output a negated output is appended
(``"valence" + LOWERS``): its map shows what **lowers** the value, for the price of one more column.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping

import torch
from torch import nn

from musictagger.catalog import ModelCard
from musictagger.explain.labels import LOWERS, ExplainError
from musictagger.heads.model import EmbeddingHead, HeadCard
from musictagger.nets.outputs import ClassifierOutput


def front_end(card: ModelCard) -> tuple:
    """What a tagger's input patches depend on: sample rate, every mel setting and the patch length."""
    return (int(card.sample_rate), tuple(sorted((k, str(v)) for k, v in card.mel.items())), card.patch_frames)


class HeadNet(nn.Module):
    """(B, T, n_mels) log-mel patches → the head's output per patch, as a ``ClassifierOutput``.

    ``logits``: (B, n_outputs), the head's logit per patch (a regression head's value, then the negated
    values); ``probs``: the head's probabilities per patch (values for regression); ``penultimate``: the
    concatenated per-patch features the head read, as ``heads.model.head_input`` concatenates a track's.
    """

    def __init__(
        self,
        head: EmbeddingHead,
        card: HeadCard,
        taggers: Mapping[str, tuple[nn.Module, ModelCard]],
    ):
        super().__init__()
        missing = [name for name in card.inputs if name not in taggers]
        if missing:
            raise ExplainError(f"head {card.name!r} reads {', '.join(missing)}, which is not loaded")
        cards = [taggers[name][1] for name in card.inputs]
        if len({front_end(c) for c in cards}) > 1:
            settings = "; ".join(f"{c.name}: {c.sample_rate} Hz, {dict(c.mel)}" for c in cards)
            raise ExplainError(
                f"head {card.name!r} reads models with different front ends ({settings}): "
                "no one spectrogram feeds them all, so its evidence cannot be drawn on one"
            )
        for model_card in cards:
            if "handmade-features" in model_card.config.get("inputs", ()):
                raise ExplainError(
                    f"head {card.name!r} reads {model_card.name}, which also reads hand-made features "
                    "that are not part of the spectrogram"
                )
        self.card = card
        self.tagger_cards = tuple(cards)
        self.taggers = nn.ModuleList([taggers[name][0] for name in card.inputs])
        device = next(self.taggers[0].parameters()).device
        # The head is a few kB: a private copy on the taggers' device leaves the analysis's head alone.
        self.head = copy.deepcopy(head).to(device).eval()
        # A head the user retrains keeps its name and card version: its weights tell the versions apart.
        digest = hashlib.blake2b(digest_size=8)
        for key, tensor in sorted(head.state_dict().items()):
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        self.weights_digest = digest.hexdigest()
        self.regression = card.task == "regression"
        self.labels: tuple[str, ...] = card.labels + (
            tuple(label + LOWERS for label in card.labels) if self.regression else ()
        )

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def version(self) -> str:
        """The head's version and weights, and every input model's version: a change to any of them
        changes the evidence (the explanation cache's key holds it)."""
        inputs = ",".join(f"{c.name}={c.version}" for c in self.tagger_cards)
        return f"{self.card.version}#{self.weights_digest}[{inputs}]"

    @property
    def approximate(self) -> bool:
        """True for a head with a hidden layer: per-patch logits then only approximate the track's."""
        return self.card.hidden > 0

    @property
    def mel(self) -> Mapping:
        return self.tagger_cards[0].mel

    @property
    def sample_rate(self) -> int:
        return int(self.tagger_cards[0].sample_rate)

    @property
    def patch_frames(self) -> int:
        return int(self.tagger_cards[0].patch_frames)

    def tagger_outputs(self, patches: torch.Tensor) -> dict[str, ClassifierOutput]:
        """Each input tagger's output on the patches, by model name."""
        return {card.name: net(patches) for card, net in zip(self.tagger_cards, self.taggers, strict=True)}

    def features(self, outputs: Mapping[str, ClassifierOutput]) -> torch.Tensor:
        """(B, input_dim): per patch, each input model's penultimate features (+ probabilities), in the
        card's order — the per-patch terms of the mean ``head_input`` reads. ``outputs`` may hold more
        taggers than this head reads (a caller running several heads runs each tagger once)."""
        parts = []
        for name in self.card.inputs:
            parts.append(outputs[name].penultimate)
            if self.card.features == "embedding+scores":
                parts.append(outputs[name].probs)
        features = torch.cat(parts, dim=1)
        if features.shape[1] != self.card.input_dim:
            raise ExplainError(
                f"head {self.card.name!r} expects {self.card.input_dim} features, "
                f"its inputs give {features.shape[1]}"
            )
        return features

    def from_outputs(self, outputs: Mapping[str, ClassifierOutput]) -> ClassifierOutput:
        """The head's per-patch output from its taggers' outputs on the same patches."""
        features = self.features(outputs)
        logits = self.head(features)
        if self.regression:
            probs = logits
            logits = torch.cat([logits, -logits], dim=1)
        elif self.card.multilabel:
            probs = torch.sigmoid(logits)
        else:
            probs = torch.softmax(logits, dim=1)
        return ClassifierOutput(logits=logits, probs=probs, penultimate=features)

    def forward(self, patches: torch.Tensor) -> ClassifierOutput:
        return self.from_outputs(self.tagger_outputs(patches))


def track_scores(net: HeadNet, patch_logits: torch.Tensor) -> torch.Tensor:
    """(n_outputs,) the head's track-level output from its (n_patches, n_outputs) per-patch logits: the
    mean logit through the head's link (sigmoid, softmax, or none for values). For a linear head this is
    the analysis's score of the same patches."""
    mean = patch_logits.mean(dim=0)
    if net.regression:
        return mean
    if net.card.multilabel:
        return torch.sigmoid(mean)
    return torch.softmax(mean, dim=0)
