"""Heads: small classifiers on the taggers' track embeddings, for taxonomies the taggers lack.

``model``: the network, its card, loading, saving and prediction: what the analysis runs. Learning a head
(sources, cross-validation, reports) is ``musictagger.head_training``.
"""

from musictagger.heads.model import (
    EmbeddingHead,
    HeadCard,
    HeadScores,
    available_heads,
    head_input,
    load_head,
    predict,
    save_head,
)

__all__ = [
    "EmbeddingHead",
    "HeadCard",
    "HeadScores",
    "available_heads",
    "head_input",
    "load_head",
    "predict",
    "save_head",
]
