"""Writing suggestions into files, the same way from the CLI and the app.

    plans = plan_write(library, vocabulary, track_ids, settings)      # reads the files; reviews honoured
    print(format_diff(plans))                                         # the dry run
    report = write(library, plans, settings, "tag --write ~/Music")  # one undoable batch
    undo(library)                                                     # the latest batch back

The plan ALWAYS honours the user's reviews (library/review.py): a rejected field is left alone, a
reviewed one gets the reviewed values; other fields follow the settings' write policy. ``settings`` is a
Settings (its [write] table) or, for a caller that already holds one, the WritePolicy itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

from musictagger.library.db import Library
from musictagger.library.policy import WritePolicy
from musictagger.library.queries import tracks_under
from musictagger.library.review import planned_writes_with_reviews
from musictagger.library.writing import (
    BatchReport,
    BatchSummary,
    PlannedWrite,
    apply_writes,
    format_diff,
    undo_batch,
    unsure_fields,
)
from musictagger.library.writing import list_batches as _list_batches
from musictagger.settings import Settings
from musictagger.taxonomy import Vocabulary

#: Tracks planned per step: progress is reported and a stop honoured between steps.
PLAN_CHUNK = 100

ProgressCallback = Callable[[int, int], None]  # (done, total)


def policy_of(settings: Settings | WritePolicy) -> WritePolicy:
    return settings if isinstance(settings, WritePolicy) else settings.write_policy()


def plan_write(
    library: Library,
    vocabulary: Vocabulary,
    track_ids: Iterable[int],
    settings: Settings | WritePolicy,
    *,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[PlannedWrite]:
    """What writing ``track_ids`` would change in their files: the policy, each reviewed field following
    its review. Reads every file's current tags (the index may be stale); writes nothing.

    ``on_progress(done, total)`` after each chunk of tracks; ``should_stop()`` ends planning early
    (the plans so far are returned).
    """
    policy = policy_of(settings)
    ids = list(dict.fromkeys(track_ids))  # the caller's order, once each
    plans: list[PlannedWrite] = []
    for start in range(0, len(ids), PLAN_CHUNK):
        if should_stop is not None and should_stop():
            break
        with library.session() as session:
            plans += planned_writes_with_reviews(session, ids[start : start + PLAN_CHUNK], policy, vocabulary)
        if on_progress is not None:
            on_progress(min(start + PLAN_CHUNK, len(ids)), len(ids))
    return plans


def track_ids_under(library: Library, paths: Iterable[str | os.PathLike]) -> list[int]:
    """The present indexed tracks that are one of ``paths`` or inside one of them, by path."""
    with library.session() as session:
        return [track.id for track in tracks_under(session, list(paths))]


def write(
    library: Library,
    plans: Sequence[PlannedWrite],
    settings: Settings | WritePolicy,
    description: str = "",
    on_progress: ProgressCallback | None = None,
) -> BatchReport:
    """Write ``plans`` as one journaled, undoable batch (library.writing.apply_writes): each file is
    written to a copy, verified, then atomically replaced; a file that fails is reported and the batch
    goes on. ``on_progress(done, total)`` after each file. A batch is never cut half way: it is as long
    as the plans given (plan fewer tracks for a shorter one)."""
    return apply_writes(library, plans, policy_of(settings), description, on_progress=on_progress)


def undo(library: Library, batch_id: int | None = None, *, force: bool = False) -> BatchReport:
    """Put back what a batch wrote (default: the latest not yet undone). Raises UndoError when there is
    no such batch or nothing left to undo. A file changed since is a conflict, left alone unless
    ``force``."""
    return undo_batch(library, batch_id, force=force)


def list_batches(library: Library) -> list[BatchSummary]:
    """Every write batch, newest first."""
    with library.session() as session:
        return _list_batches(session)


__all__ = [
    "PLAN_CHUNK",
    "BatchReport",
    "PlannedWrite",
    "format_diff",
    "list_batches",
    "plan_write",
    "policy_of",
    "track_ids_under",
    "undo",
    "unsure_fields",
    "write",
]
