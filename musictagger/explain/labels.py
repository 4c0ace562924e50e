"""Which outputs of a model a label means, and the one score per patch that an explanation explains.

A label is either a raw tag of the model ("metal") or a canonical label of the vocabulary ("Metal"),
which names one or more raw tags per model. Several raw tags are combined by the **max of their logits**
per patch: the vocabulary scores a canonical label by the highest score among its synonyms (see
``taxonomy.Vocabulary.canonical_scores``), and the sigmoid is monotonic, so the max logit is the logit of
exactly the synonym that carries the label's score. A sum would explain a quantity the user never sees.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from musictagger.errors import MusictaggerError
from musictagger.taxonomy import Vocabulary, load_vocabulary


class ExplainError(MusictaggerError):
    """An explanation cannot be made as asked: unknown label, unknown layer or method, bad input."""


def resolve_label(
    label: str, model_name: str, model_labels: Sequence[str], vocabulary: Vocabulary | None = None
) -> tuple[str, tuple[int, ...]]:
    """``(display name, output indices)`` of ``label`` in a model whose outputs are ``model_labels``.

    A raw tag of the model wins (exact spelling first, then case-insensitive); otherwise the vocabulary's
    canonical label (or any of its synonyms) is looked up and mapped to this model's raw tags.
    """
    if label in model_labels:
        return label, (list(model_labels).index(label),)
    folded = {tag.casefold(): i for i, tag in enumerate(model_labels)}
    vocabulary = vocabulary if vocabulary is not None else load_vocabulary()
    canonical = vocabulary.canonical_name(label)
    if canonical is not None:
        entry = next(item for item in vocabulary.labels if item.name == canonical)
        # A head-fed label (a DJ mood, a genre family) is explained through the raw tags that hint at it.
        tags = entry.sources.get(model_name, ()) or entry.hints.get(model_name, ())
        indices = tuple(sorted({folded[t.casefold()] for t in tags if t.casefold() in folded}))
        if indices:
            return canonical, indices
    if label.casefold() in folded:
        index = folded[label.casefold()]
        return model_labels[index], (index,)
    raise ExplainError(f"{label!r}: not a label of model {model_name} (raw tags: {', '.join(model_labels)})")


def label_logit(logits: torch.Tensor, indices: Sequence[int]) -> torch.Tensor:
    """(B,) the label's logit per patch: max over its raw tags (see the module docstring for why max)."""
    return logits[:, list(indices)].amax(dim=1)
