"""What the research classifiers return: the fields the analysis and explanation code read from any net."""

from __future__ import annotations

from typing import NamedTuple

import torch


class ClassifierOutput(NamedTuple):
    """One row per input patch. The field names match :class:`~musictagger.nets.musicnn.MusicnnOutput`'s
    first three, so code that reads ``probs`` and ``penultimate`` works with every net."""

    logits: torch.Tensor  # (B, n_labels) before softmax / sigmoid
    probs: torch.Tensor  # (B, n_labels): softmax for single-label nets, sigmoid for multi-label nets
    penultimate: torch.Tensor  # (B, embedding_dim): the features the last linear layer reads
