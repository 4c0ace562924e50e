"""What the models suggest for tracks, and what the user's reviews make of it: one answer for both front
ends (the app's panels, ``tag``'s printing, ``list``).

    record = analysis_record(result, vocabulary, settings.selection_policy())   # a fresh analysis, as JSON
    found = track_suggestions(session, vocabulary, [7, 8], settings)            # stored tracks
    found[7]["genre"].shown        # (("Jazz", 0.71), ...): what the panels show (display threshold, cap)
    found[7]["genre"].values       # what a write would put in the field before fill / merge with the file
    found[7]["genre"].decided_by   # "review" or "policy"

The reviews' precedence is the write's own (library/review.py → writing.plan_writes): a rejected field is
left alone, an accepted or edited one is written with its values in mode ``replace``, and a field the
settings do not write stays unwritten whatever its review.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from musictagger.analysis import AnalysisResult, TrackAnalysis
from musictagger.library.id_chunks import id_chunks
from musictagger.library.labelling import STYLE_HINT
from musictagger.library.policy import LABEL_FIELDS, WritePolicy, unique_values
from musictagger.library.review import Review, reviews_for, suggestions_for
from musictagger.settings import Settings
from musictagger.taxonomy import ScoredLabel, SelectionPolicy, Vocabulary

# JSON key -> vocabulary category, in output order (tag --json).
SECTIONS = {
    "genres": "genre",
    "styles": "style",
    "moods": "mood",
    "descriptors": "descriptor",
    "eras": "era",
    "instruments": "instrument/voice",
}


# -- a fresh analysis (no index) -------------------------------------------------------------------------


def analysis_labels(
    analysis: TrackAnalysis, vocabulary: Vocabulary, selection: SelectionPolicy
) -> dict[str, list[ScoredLabel]]:
    """The top labels per section (genres, moods, eras, instruments) of one analysis, best first."""
    raw = analysis.label_scores()
    return {key: vocabulary.select(raw, category, selection) for key, category in SECTIONS.items()}


def confident_labels(
    scores: Mapping[str, float], vocabulary: Vocabulary, category: str, min_score: float | None
) -> list[ScoredLabel]:
    """The labels of ``category`` a write would take (each at its calibrated threshold, or at the user's
    ``min_score``), best first, before the field's cap."""
    wanted = {label.name for label in vocabulary.in_category(category)}
    ranked = sorted(
        (ScoredLabel(name, score) for name, score in scores.items() if name in wanted),
        key=lambda s: (-s.score, s.label),
    )
    return [s for s in ranked if vocabulary.passes(s.label, s.score, min_score)]


def style_hint(
    styles: Sequence[tuple[str, float]], confident_genre: bool, vocabulary: Vocabulary
) -> dict | None:
    """The style the models hear most, as every front end shows it: ``{"label", "family"}`` for the
    best style scoring STYLE_HINT or more (a raw tag's probability: a hint, never written), only beside a
    confident genre (a style alone would name a genre where a write puts none); else None."""
    if not confident_genre:
        return None
    best = max((item for item in styles if item[1] >= STYLE_HINT), key=lambda item: item[1], default=None)
    if best is None:
        return None
    return {"label": best[0], "family": vocabulary.style_families.get(best[0])}


def no_confident_notes(confident: Mapping[str, Sequence[object]]) -> list[str]:
    """``["no confident mood"]`` and the like: what a write leaves alone, said rather than guessed."""
    return [f"no confident {field}" for field in LABEL_FIELDS if not confident.get(field)]


def analysis_record(
    result: AnalysisResult,
    vocabulary: Vocabulary,
    selection: SelectionPolicy,
    min_score: float | None = None,
) -> dict:
    """The JSON object ``tag`` prints for one file: its labels per section, the genres and moods a write
    would take (``confident``, with ``notes`` saying "no confident mood" where none passes), energy
    (1-10) and valence (-1..1), every raw tag of every model, every head's output; or its error."""
    if result.error is not None:
        cause = getattr(result.error, "cause", None) or str(result.error)
        return {"path": result.path, "error": cause, "error_type": type(result.error).__name__}
    analysis = result.analysis
    record: dict = {"path": analysis.path, "duration_s": round(analysis.duration_s, 3)}
    for key, labels in analysis_labels(analysis, vocabulary, selection).items():
        record[key] = [label.as_dict() for label in labels]
    for style in record["styles"]:  # the family each style refines: "Electronic › Techno"
        style["family"] = vocabulary.style_families.get(style["label"])
    scores = vocabulary.canonical_scores(analysis.label_scores())
    confident = {
        field: [s.label for s in confident_labels(scores, vocabulary, field, min_score)]
        for field in LABEL_FIELDS
    }
    record["confident"] = confident
    record["notes"] = no_confident_notes(confident)
    record["style"] = style_hint(
        [(s["label"], s["score"]) for s in record["styles"]], bool(confident["genre"]), vocabulary
    )
    dimensions = analysis.dimensions()
    if "energy" in dimensions:
        record["energy"] = round(float(dimensions["energy"]), 1)
    if "valence" in dimensions:
        record["valence"] = round(float(dimensions["valence"]), 2)
    record["tags"] = {
        model: {tag: round(p, 6) for tag, p in tags.items()} for model, tags in analysis.raw_tags().items()
    }
    record["heads"] = {
        head: {label: round(p, 6) for label, p in probs.items()}
        for head, probs in analysis.head_scores().items()
    }
    return record


# -- stored tracks ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSuggestion:
    """One field (genre or mood) of one track."""

    field: str
    shown: tuple[tuple[str, float], ...]  # the models' labels the panels show, best first
    review: Review | None
    mode: str  # the write mode the field gets: the policy's; "replace" when reviewed; "skip" when rejected
    values: tuple[str, ...]  # the values a write would bring (before fill / merge with the file's)

    @property
    def decided_by(self) -> str:
        return "review" if self.review is not None else "policy"

    def as_dict(self) -> dict:
        data: dict = {
            "suggested": [{"label": label, "score": round(score, 4)} for label, score in self.shown],
            "mode": self.mode,
            "values": list(self.values),
            "decided_by": self.decided_by,
        }
        if self.review is not None:
            data["review"] = {
                "status": self.review.status,
                "values": None if self.review.values is None else list(self.review.values),
            }
        return data


def track_suggestions(
    session: Session,
    vocabulary: Vocabulary,
    track_ids: Iterable[int],
    settings: Settings,
    *,
    policy: WritePolicy | None = None,
) -> dict[int, dict[str, FieldSuggestion]]:
    """{track id: {field: FieldSuggestion}} for every track of ``track_ids`` (an unanalysed one has
    nothing shown and, unless reviewed, nothing to write). ``policy`` overrides the settings' write
    policy (a CLI run's flags)."""
    ids = sorted(set(track_ids))
    policy = policy or settings.write_policy()
    selection = settings.selection_policy()
    # Per-label thresholds (min_score None) may sit below the display threshold: fetch down to the floor.
    labels = suggestions_for(session, ids, min(selection.min_score, write_floor(policy, vocabulary)))
    reviews = reviews_for(session, ids)
    found: dict[int, dict[str, FieldSuggestion]] = {}
    for track_id in ids:
        per_field: dict[str, FieldSuggestion] = {}
        for name in LABEL_FIELDS:
            scored = labels.get(track_id, {}).get(name, [])
            shown = tuple((label, score) for label, score in scored if score >= selection.min_score)
            review = reviews.get(track_id, {}).get(name)
            mode, values = write_decision(name, scored, review, policy, vocabulary)
            per_field[name] = FieldSuggestion(name, shown[: selection.top_n], review, mode, values)
        found[track_id] = per_field
    return found


def write_floor(policy: WritePolicy, vocabulary: Vocabulary) -> float:
    """The lowest score a write can take: the user's ``min_score``, else the lowest calibrated threshold
    (an uncalibrated label is never taken without a ``min_score``)."""
    if policy.min_score is not None:
        return policy.min_score
    return min(vocabulary.thresholds.values(), default=1.0)


def write_decision(
    name: str,
    scored: Sequence[tuple[str, float]],
    review: Review | None,
    policy: WritePolicy,
    vocabulary: Vocabulary,
) -> tuple[str, tuple[str, ...]]:
    """The mode and values writing.plan_writes uses for this field (the same rules, for display)."""
    suggested = unique_values(
        [
            vocabulary.canonical_name(label) or label
            for label, score in scored
            if vocabulary.passes(label, score, policy.min_score)
        ],
        vocabulary,
    )[: policy.cap(name)]
    mode = policy.mode(name)
    if review is None:
        return mode, tuple(suggested)
    if review.status == "rejected":
        return "skip", ()
    values = suggested if review.values is None else unique_values(list(review.values), vocabulary)
    return ("skip" if mode == "skip" else "replace"), tuple(values)


def head_suggestions(
    session: Session, track_ids: Iterable[int], heads: Sequence[str] | None = None
) -> dict[int, dict[str, list[tuple[str, float]]]]:
    """{track id: {head: [(label, probability), best first]}} from the stored embeddings: what each head
    (default: every head available) says of tracks analysed by its input models. A head whose card or
    weights cannot be read is left out (``tag`` reports it)."""
    from musictagger.catalog import load_card
    from musictagger.errors import ModelError
    from musictagger.head_training.sources import stored_outputs
    from musictagger.heads.model import available_heads, head_input, load_head, predict

    ids = sorted(set(track_ids))
    found: dict[int, dict[str, list[tuple[str, float]]]] = {}
    for head_name in available_heads() if heads is None else heads:
        try:
            head, card = load_head(head_name)
            orders: Mapping[str, Sequence[str]] = {model: load_card(model).labels for model in card.inputs}
        except ModelError:
            continue
        outputs: dict = {}
        for chunk in id_chunks(ids):
            outputs.update(stored_outputs(session, chunk, orders))
        for track_id, by_model in outputs.items():
            if set(by_model) != set(card.inputs):
                continue
            probs = predict(head, card, head_input(card, by_model))
            ranked = sorted(zip(card.labels, (float(p) for p in probs), strict=True), key=lambda x: -x[1])
            found.setdefault(track_id, {})[card.name] = ranked
    return found
