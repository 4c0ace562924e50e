"""Heads: small classifiers on the taggers' track embeddings, for taxonomies the taggers lack.

``model`` (the network, its card, loading and saving), ``training`` (fitting and nested cross-validation),
``sources`` (labelled tracks from a dataset or from the user's library), ``build`` (cross-validate,
report, fit, card).
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
