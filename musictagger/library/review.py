"""The user's review of the suggestions: accept, edit or reject each track's genres and moods before writing.

    set_review(session, [7, 8], "genre", None, "accepted")        # their own suggestions, as planned
    set_review(session, [7], "mood", ["Chill", "Dreamy"], "edited")
    set_review(session, [8], "mood", None, "rejected")            # leave the file's mood alone
    session.commit()
    plans = planned_writes_with_reviews(session, [7, 8], policy, vocabulary)

One TrackReview row per (track, field). A reviewed field is written with mode ``replace`` (the user chose
its values, so caps and the policy's fill / merge do not apply), a rejected one is left alone; fields
without a review follow the policy. Qt-free: the review panel and any later front end share it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from musictagger.library.id_chunks import id_chunks
from musictagger.library.policy import LABEL_FIELDS, WritePolicy
from musictagger.library.schema import Track, TrackLabel, TrackReview
from musictagger.library.writing import FieldOverride, PlannedWrite, plan_writes
from musictagger.taxonomy import Vocabulary

STATUSES = ("accepted", "edited", "rejected")


@dataclass(frozen=True)
class Review:
    """One field's decision. `values` None with ``accepted``: the track's own suggestions."""

    track_id: int
    field: str
    values: tuple[str, ...] | None
    status: str
    updated_at: datetime

    def override(self) -> FieldOverride:
        if self.status == "rejected":
            return FieldOverride("skip")
        return FieldOverride("replace", self.values)


def clean_values(values: Iterable[str]) -> list[str]:
    """Stripped, non-empty, first spelling kept (case-insensitively): what a user typed, tidied."""
    kept: list[str] = []
    seen: set[str] = set()
    for value in values:
        text = " ".join(str(value).split())
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            kept.append(text)
    return kept


def set_review(
    session: Session,
    track_ids: Iterable[int],
    field: str,
    values: Sequence[str] | None,
    status: str,
) -> None:
    """Record one decision for `field` of every track in `track_ids` (replacing an earlier one).

    ``accepted``: `values` or, when None, each track's own suggestions; ``edited``: `values` (required);
    ``rejected``: `values` is ignored. An ``edited`` list that is empty after tidying is a rejection: no
    value to write means the file keeps its own. The caller commits.
    """
    if field not in LABEL_FIELDS:
        raise ValueError(f"field must be one of {', '.join(LABEL_FIELDS)}, not {field!r}")
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    stored: list[str] | None = None
    if status == "edited" and values is None:
        raise ValueError("an edited review needs its values")
    if status != "rejected" and values is not None:
        stored = clean_values(values)
        if not stored:
            status, stored = "rejected", None
    ids = sorted(set(track_ids))
    now = _now()
    existing = {
        row.track_id: row
        for chunk in id_chunks(ids)
        for row in session.scalars(
            select(TrackReview).where(TrackReview.track_id.in_(chunk), TrackReview.field == field)
        )
    }
    for track_id in ids:
        row = existing.get(track_id)
        if row is None:
            row = TrackReview(track_id=track_id, field=field)
            session.add(row)
        row.values = list(stored) if stored is not None else None
        row.status = status
        row.updated_at = now
    session.flush()


def clear_reviews(session: Session, track_ids: Iterable[int], field: str | None = None) -> None:
    """Forget the decisions on `field` (both fields when None): the policy decides again. Caller commits."""
    for chunk in id_chunks(sorted(set(track_ids))):
        query = delete(TrackReview).where(TrackReview.track_id.in_(chunk))
        if field is not None:
            query = query.where(TrackReview.field == field)
        session.execute(query)
    session.flush()


def reviews_for(session: Session, track_ids: Iterable[int]) -> dict[int, dict[str, Review]]:
    """{track id: {field: Review}} for the tracks that have any review."""
    found: dict[int, dict[str, Review]] = {}
    for chunk in id_chunks(sorted(set(track_ids))):
        for row in session.scalars(select(TrackReview).where(TrackReview.track_id.in_(chunk))):
            values = tuple(row.values) if row.values is not None else None
            found.setdefault(row.track_id, {})[row.field] = Review(
                row.track_id, row.field, values, row.status, row.updated_at
            )
    return found


def overrides_from(reviews: Mapping[int, Mapping[str, Review]]) -> dict[int, dict[str, FieldOverride]]:
    return {
        track_id: {name: review.override() for name, review in fields.items()}
        for track_id, fields in reviews.items()
    }


def planned_writes_with_reviews(
    session: Session,
    tracks: Iterable[Track | int],
    policy: WritePolicy,
    vocabulary: Vocabulary,
) -> list[PlannedWrite]:
    """plan_writes, with each reviewed field following its review instead of the policy's mode."""
    rows = [session.get(Track, t) if isinstance(t, int) else t for t in tracks]
    rows = [t for t in rows if t is not None]
    reviews = reviews_for(session, [t.id for t in rows])
    return plan_writes(session, rows, policy, vocabulary, overrides=overrides_from(reviews))


def suggestions_for(
    session: Session, track_ids: Iterable[int], min_score: float = 0.0
) -> dict[int, dict[str, list[tuple[str, float]]]]:
    """{track id: {field: [(label, score), best first]}}: what the models suggest, for display."""
    found: dict[int, dict[str, list[tuple[str, float]]]] = {}
    for chunk in id_chunks(sorted(set(track_ids))):
        query = (
            select(TrackLabel.track_id, TrackLabel.category, TrackLabel.label, TrackLabel.score)
            .where(
                TrackLabel.track_id.in_(chunk),
                TrackLabel.category.in_(LABEL_FIELDS),
                TrackLabel.score >= min_score,
            )
            .order_by(TrackLabel.track_id, TrackLabel.score.desc(), TrackLabel.rank, TrackLabel.label)
        )
        for track_id, category, label, score in session.execute(query):
            found.setdefault(track_id, {}).setdefault(category, []).append((label, float(score)))
    return found


def _now() -> datetime:
    # Naive UTC, as every time in the index.
    return datetime.now(UTC).replace(tzinfo=None)
