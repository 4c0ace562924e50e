"""What a reviewer's click means, Qt-free: the review panel calls these on a worker thread.

    state = load_review_state(library, [7, 8], SelectionPolicy(top_n=3, min_score=0.1))
    state = decide(library, state, "accept_one", "genre", label="Jazz")   # stored, then read back

``ReviewState`` is a snapshot of the selected tracks' suggestions and reviews (plain data, safe to hand
between threads); each decision reads the snapshot the user saw, stores the new reviews in one
transaction (library/review.py), and returns the fresh snapshot to show. Per suggestion: ✓ adds it to
the field's accepted values, ✗ drops it (with no earlier decision, ✗ keeps the other suggestions); an
edit sets the values outright; "accept all" accepts each track's own suggestions; "reset" forgets.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from musictagger.library.db import Library
from musictagger.library.id_chunks import id_chunks
from musictagger.library.policy import LABEL_FIELDS
from musictagger.library.recordings import tags_from_copies
from musictagger.library.review import Review, clear_reviews, reviews_for, set_review, suggestions_for
from musictagger.library.schema import Track
from musictagger.tags import TagReadError, read_tags
from musictagger.taxonomy import SelectionPolicy

DECISIONS = ("accept_all", "edit", "reset", "accept_one", "reject_one")


@dataclass(frozen=True)
class ReviewState:
    """The selected tracks as the panel shows them. ``first_*`` describe the first track, for a single
    selection: its title and what its file holds now (read from the file, not the possibly stale index)."""

    track_ids: tuple[int, ...]
    suggestions: dict[int, dict[str, list[tuple[str, float]]]] = field(default_factory=dict)
    reviews: dict[int, dict[str, Review]] = field(default_factory=dict)
    selection: SelectionPolicy = field(default_factory=SelectionPolicy)
    first_title: str = ""
    first_file_values: dict[str, list[str]] = field(default_factory=dict)
    # ``suggestions`` hold every label down to this score (None: the display threshold), so what a write
    # takes at a calibrated threshold under the display threshold is known too; only those at or above
    # the display threshold are shown.
    floor: float | None = None
    # What the tracks' copies (the same recording in other files) hold: {track id: {field: (values, that
    # copy's path)}}, what a write fills in where no label is confident (WritePolicy.from_copies). For a
    # selection of several, only the fields a track's file was empty in when last scanned, as the write
    # weighs them.
    copy_values: dict[int, dict[str, tuple[list[str], str]]] = field(default_factory=dict)
    # For a selection of several: the label fields each track's file held when last scanned, which a
    # write with no confident label for them leaves as they are.
    file_fields: dict[int, frozenset[str]] = field(default_factory=dict)

    @property
    def first_copy_values(self) -> dict[str, tuple[list[str], str]]:
        return self.copy_values.get(self.track_ids[0], {}) if self.track_ids else {}

    def shown_suggestions(self, track_id: int, name: str) -> list[tuple[str, float]]:
        shown = [s for s in self.all_suggestions(track_id, name) if s[1] >= self.selection.min_score]
        return shown[: self.selection.top_n]

    def all_suggestions(self, track_id: int, name: str) -> list[tuple[str, float]]:
        """Every label loaded for the track's field, best first (down to ``floor``)."""
        return self.suggestions.get(track_id, {}).get(name, [])

    def review(self, track_id: int, name: str) -> Review | None:
        return self.reviews.get(track_id, {}).get(name)

    def decided_values(self, track_id: int, name: str) -> list[str] | None:
        """The values a review fixes for the field; None when there is no review or it was rejected."""
        review = self.review(track_id, name)
        if review is None or review.status == "rejected":
            return None
        if review.values is None:
            return [label for label, _ in self.shown_suggestions(track_id, name)]
        return list(review.values)

    def status_for(self, track_id: int, name: str, values: Sequence[str]) -> str:
        """``accepted`` when every value is one of the track's suggestions, ``edited`` otherwise."""
        suggested = {label.casefold() for label, _ in self.all_suggestions(track_id, name)}
        return "accepted" if all(v.casefold() in suggested for v in values) else "edited"


def load_review_state(
    library: Library, track_ids: Sequence[int], selection: SelectionPolicy, floor: float | None = None
) -> ReviewState:
    """The selected tracks' suggestions (down to ``floor`` where it is under the display threshold),
    reviews, and what the first track's file holds now."""
    ids = tuple(dict.fromkeys(int(t) for t in track_ids))
    lowest = selection.min_score if floor is None else min(floor, selection.min_score)
    with library.session() as session:
        suggestions = suggestions_for(session, ids, lowest)
        reviews = reviews_for(session, ids)
        first = session.get(Track, ids[0]) if len(ids) == 1 else None
        title = (first.title or os.path.basename(first.path)) if first is not None else ""
        path = os.fsdecode(first.path_key) if first is not None else None
        stored = dict(first.file_tags or {}) if first is not None else {}
        if first is not None:
            held: dict[int, frozenset[str]] = {}
            copies = tags_from_copies(session, [first.id], LABEL_FIELDS)
        else:
            held = _fields_held(session, ids)
            empty = {track_id: set(LABEL_FIELDS) - held.get(track_id, frozenset()) for track_id in ids}
            copies = _for_empty_fields(
                tags_from_copies(session, [t for t, e in empty.items() if e], LABEL_FIELDS), empty
            )
    values: dict[str, list[str]] = {}
    if path is not None:
        try:
            tags = read_tags(path)
        except TagReadError:
            tags = stored
        values = {name: list(tags.get(name, [])) for name in LABEL_FIELDS}
    return ReviewState(ids, suggestions, reviews, selection, title, values, floor, copies, held)


def _fields_held(session: Session, ids: Sequence[int]) -> dict[int, frozenset[str]]:
    """Which label fields each track's file held when last scanned (tracks holding none left out)."""
    held: dict[int, frozenset[str]] = {}
    for chunk in id_chunks(ids):
        for track_id, tags in session.execute(select(Track.id, Track.file_tags).where(Track.id.in_(chunk))):
            fields = frozenset(name for name in LABEL_FIELDS if (tags or {}).get(name))
            if fields:
                held[track_id] = fields
    return held


def _for_empty_fields(
    copies: dict[int, dict[str, tuple[list[str], str]]], empty: dict[int, set[str]]
) -> dict[int, dict[str, tuple[list[str], str]]]:
    """``copies`` kept to the fields each track's file was empty in: the only ones a write fills."""
    kept = {
        track_id: {name: found for name, found in fields.items() if name in empty[track_id]}
        for track_id, fields in copies.items()
    }
    return {track_id: fields for track_id, fields in kept.items() if fields}


def decide(
    library: Library,
    state: ReviewState,
    decision: str,
    name: str | None = None,
    *,
    label: str = "",
    values: Sequence[str] = (),
) -> ReviewState:
    """Store one decision for every track of ``state`` and return the state as it is now."""
    if decision not in DECISIONS:
        raise ValueError(f"unknown review decision {decision!r}")
    ids = list(state.track_ids)
    if ids:
        with library.session() as session:
            if decision == "accept_all":
                for each in LABEL_FIELDS:
                    set_review(session, ids, each, None, "accepted")
            elif decision == "edit":
                set_review(session, ids, name, list(values), "edited")
            elif decision == "reset":
                clear_reviews(session, ids, name)
            elif decision == "accept_one":
                for track_id in ids:
                    kept = state.decided_values(track_id, name) or []
                    if label.casefold() not in {v.casefold() for v in kept}:
                        kept.append(label)
                    set_review(session, [track_id], name, kept, state.status_for(track_id, name, kept))
            else:  # reject_one
                for track_id in ids:
                    current = state.decided_values(track_id, name)
                    if current is None:  # no decision yet: rejecting one keeps the other suggestions
                        current = [each for each, _ in state.shown_suggestions(track_id, name)]
                    kept = [v for v in current if v.casefold() != label.casefold()]
                    status = state.status_for(track_id, name, kept) if kept else "rejected"
                    set_review(session, [track_id], name, kept or None, status)
            session.commit()
    return load_review_state(library, ids, state.selection, state.floor)
