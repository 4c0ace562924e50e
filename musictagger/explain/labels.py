"""Which network explains a label the DJ sees, which of its outputs the label means, and the one score
per patch that an explanation explains.

``resolve``: a label on a track → what explains it. A genre family or a DJ mood is scored by a calibrated
head (``models/genres``, ``models/dj_moods``), energy and valence by the regression head
(``models/energy_valence``): those go through their head (``head_net.HeadNet``), back through the taggers to
the spectrogram. Styles and descriptors are raw tagger tags and go through their tagger.

On a tagger, a label is either a raw tag of the model ("metal") or a canonical label of the vocabulary
("Metal"), which names one or more raw tags per model. Several raw tags are combined by the **max of their
logits** per patch: the vocabulary scores a canonical label by the highest score among its synonyms (see
``taxonomy.Vocabulary.canonical_scores``), and the sigmoid is monotonic, so the max logit is the logit of
exactly the synonym that carries the label's score. A sum would explain a quantity the user never sees.
On a head, a label is one output (``resolve_head_output``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from musictagger.errors import MusictaggerError
from musictagger.taxonomy import CanonicalLabel, Vocabulary, load_vocabulary

if TYPE_CHECKING:
    from musictagger.analysis import TrackAnalysis

# The suffix naming a regression output's negation (``head_net.HeadNet``): its map shows what lowers the
# value, where the plain output's map shows what raises it.
LOWERS = " (what lowers it)"


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


def _entry(vocabulary: Vocabulary, name: str) -> CanonicalLabel:
    return next(item for item in vocabulary.labels if item.name == name)


def head_output_name(output: str, head_name: str, vocabulary: Vocabulary) -> str:
    """What the DJ calls a head's output: the canonical label it feeds ("Dark"), else the output itself,
    capitalised ("Energy" for the regression output "energy"; a negated output is named as its value)."""
    output = output.removesuffix(LOWERS)
    for item in vocabulary.labels:
        if output in item.sources.get(head_name, ()):
            return item.name
    return output[:1].upper() + output[1:]


def resolve_head_output(
    label: str, head_name: str, outputs: Sequence[str], vocabulary: Vocabulary | None = None
) -> tuple[str, int]:
    """``(display name, output index)`` of ``label`` among a head's outputs (``HeadNet.labels``).

    An output's own name matches (case-insensitive: "Dark", "energy", "valence (what lowers it)"), and so
    does a canonical label of the vocabulary that this head's output feeds.
    """
    vocabulary = vocabulary if vocabulary is not None else load_vocabulary()
    folded = {output.casefold(): i for i, output in enumerate(outputs)}
    index = folded.get(label.casefold())
    if index is None:
        canonical = vocabulary.canonical_name(label)
        fed = _entry(vocabulary, canonical).sources.get(head_name, ()) if canonical else ()
        index = next((folded[o.casefold()] for o in fed if o.casefold() in folded), None)
    if index is None:
        raise ExplainError(f"{label!r}: not a label of head {head_name} (labels: {', '.join(outputs)})")
    return head_output_name(outputs[index], head_name, vocabulary), index


@dataclass(frozen=True)
class LabelSource:
    """What explains a label the DJ sees: one output of a head, or raw tags of one tagger."""

    source: str  # the head's or the tagger model's name
    label: str  # what ``explain`` is asked for on it: a canonical label, a head's output or a raw tag
    head: bool  # True: ``source`` is a head, explained through its input taggers


def _track_scores(analysis: TrackAnalysis, name: str) -> dict[str, float]:
    """A classifying head's probabilities or a tagger's raw-tag scores on this track; {} if it did not run
    (or is a regression head, whose values are no evidence for a label)."""
    if name in analysis.heads:
        head = analysis.heads[name]
        return {} if head.task == "regression" else head.as_dict()
    scores = analysis.models.get(name)
    return scores.as_dict() if scores is not None else {}


def _scored_sources(entry: CanonicalLabel, analysis: TrackAnalysis, hints: bool) -> list[tuple[float, str]]:
    """(score on this track, head or model name) of every source (or hint) of ``entry`` that ran."""
    found = []
    for name, outputs in (entry.hints if hints else entry.sources).items():
        scores = _track_scores(analysis, name)
        found += [(scores[output], name) for output in outputs if output in scores]
    return found


def resolve(label: str, analysis: TrackAnalysis, vocabulary: Vocabulary | None = None) -> LabelSource:
    """Which head or tagger explains ``label`` on this analysed track.

    1. A canonical label (or any spelling the vocabulary maps to one) goes through the source that carries
       its score on this track: the highest-scoring of its sources, as ``Vocabulary.canonical_scores``
       scores it. A genre family or DJ mood is fed by its head, so it goes through the head; a style or a
       descriptor through its tagger's raw tags. A label none of whose sources ran is explained through
       the tagger whose hint tags score highest.
    2. A head's own output ("energy", "valence (what lowers it)", "angry/tense"): that head.
    3. A raw tag of a tagger: that tagger (the one scoring it highest where two have it).
    """
    vocabulary = vocabulary if vocabulary is not None else load_vocabulary()
    canonical = vocabulary.canonical_name(label)
    if canonical is not None:
        entry = _entry(vocabulary, canonical)
        found = _scored_sources(entry, analysis, hints=False) or _scored_sources(entry, analysis, hints=True)
        if found:
            _score, name = max(found)
            return LabelSource(name, canonical, name in analysis.heads)
    folded = label.casefold().removesuffix(LOWERS.casefold())
    for name, scores in analysis.heads.items():
        if folded in (output.casefold() for output in scores.labels):
            return LabelSource(name, label, True)
    tagged = [
        (float(scores.scores[[t.casefold() for t in scores.labels].index(folded)]), name)
        for name, scores in analysis.models.items()
        if folded in (t.casefold() for t in scores.labels)
    ]
    if tagged:
        return LabelSource(max(tagged)[1], label, False)
    known = sorted({o for s in analysis.heads.values() for o in s.labels})
    raise ExplainError(
        f"{label!r}: not a label of this track (no vocabulary label, head output or raw tag of the models "
        f"that ran; head outputs: {', '.join(known) or 'none'})"
    )
