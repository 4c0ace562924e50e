"""Analysis results in the index: what needs analysing, saving each result, reading it back.

An analysis is current when it was made from the track's present audio (same fingerprint: a tag edit
keeps it, new audio does not) by the present version of its model. Each result is saved in its own
transaction as it lands, so an interrupted run loses at most the track in progress and the next run
resumes with the rest.

Tempo and key (Track.bpm, Track.key, …) are current when the track's ``tempo_key_basis`` is the
analyzer's stage's (same estimators and settings) and ``tempo_key_fingerprint`` its present audio. A
track analysed before tempo and key existed, or under another tempo range, gets them from a decode and
the tempo/key stage alone: the taggers do not run again (``analyse_pending``'s second pass).

Library mode (``patch_budget``) stores sampled analyses (``Analysis.sampled``, the rows' ``patch_starts``;
an analysis by library mode's int8 networks counts as sampled even when it has every patch of a short
track). A sampled analysis is current for library mode; a full run (``tag --full``, ``[analysis] full``)
redoes it in full; and a sampled result never replaces a current full analysis of the same model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple, Protocol

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from musictagger.analysis import (
    AnalysisResult,
    Analyzer,
    TempoKeyResult,
    TrackAnalysis,
    analyse_files,
    analyse_tempo_key_files,
)
from musictagger.catalog import ModelCard
from musictagger.library.db import Library, with_retries
from musictagger.library.labelling import missing_head_outputs, rebuild_labels, relabel_if_stale
from musictagger.library.scanner import path_key_of, report_path, utc_now
from musictagger.library.schema import Analysis, Track
from musictagger.taxonomy import Vocabulary
from musictagger.tempo_key import TempoKey

# Called after each track is saved: (track id, the analysis or None, the error's cause or None).
ResultCallback = Callable[[int, TrackAnalysis | None, str | None], None]


class AnalysisRunner(Protocol):
    """Where ``analyse_pending`` runs the analyses: in this process (``IN_PROCESS``), or on a Ray cluster
    (services/ray_analysis.py). Either yields one result per path, in the paths' order, and the results are
    stored here alike."""

    def analyse_files(
        self, analyzer: Analyzer, paths: list[str], *, decode_workers: int, patch_budget: int | None
    ) -> Iterator[AnalysisResult]: ...

    def analyse_tempo_key_files(
        self, analyzer: Analyzer, paths: list[str], *, decode_workers: int
    ) -> Iterator[TempoKeyResult]: ...


class _InProcess:
    """The analyses in this process: musictagger.analysis' decode threads and the analyzer's models."""

    analyse_files = staticmethod(analyse_files)
    analyse_tempo_key_files = staticmethod(analyse_tempo_key_files)


IN_PROCESS: AnalysisRunner = _InProcess()


class StoredAnalysis(NamedTuple):
    """One model's analysis of one track, as the GUI draws it."""

    scores: dict[str, float]  # {raw tag: probability}
    taggram: np.ndarray  # float32 (n_patches, n_labels), columns in the order of ``scores``
    embedding: np.ndarray  # float32 (embedding_dim,)
    patch_seconds: float
    # Start time of each taggram row: consecutive patches for a full analysis, the sampled ones otherwise.
    patch_starts_s: np.ndarray | None = None
    sampled: bool = False  # library mode: the taggram is not every patch of the track


@dataclass
class AnalyseReport:
    pending: int = 0  # tracks that needed analysis when the run started
    analysed: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, cause)
    stopped: bool = False  # should_stop() ended the run early; the rest is analysed next time
    elapsed_s: float = 0.0
    relabelled: int = 0  # analysed tracks whose labels were rebuilt (a vocabulary or head changed)
    tempo_key_pending: int = 0  # analysed tracks that lacked a current tempo/key when the second pass began
    tempo_key_only: int = 0  # of those, estimated from a decode alone (no tagger run)


def analyses_needed(
    session: Session,
    model_names: Sequence[str],
    model_versions: Mapping[str, str] | Sequence[str],
    *,
    full: bool = False,
) -> list[Track]:
    """Tracks (present, readable) lacking a current analysis by at least one of the models, by path.

    ``model_versions`` maps each model name to its version (a sequence is taken in ``model_names``'
    order). ``full``: a sampled (library-mode) analysis does not count as current.
    """
    versions = _versions_by_model(model_names, model_versions)
    if not versions:
        return []
    lacking = [
        ~select(Analysis.id)
        .where(
            Analysis.track_id == Track.id,
            Analysis.model == name,
            Analysis.model_version == version,
            Analysis.fingerprint.is_not_distinct_from(Track.fingerprint),
            *([Analysis.sampled.is_(False)] if full else []),
        )
        .exists()
        for name, version in versions.items()
    ]
    query = (
        select(Track)
        .where(Track.missing_since.is_(None), Track.error.is_(None), or_(*lacking))
        .order_by(Track.path, Track.id)
    )
    return list(session.scalars(query))


def save_analysis(
    session: Session,
    track: Track,
    analysis: TrackAnalysis,
    cards: Mapping[str, ModelCard],
    vocabulary: Vocabulary,
    tempo_key_basis: str | None = None,
) -> None:
    """Upsert one Analysis row per model of ``analysis``, then rebuild the track's labels; with
    ``tempo_key_basis`` (the stage's) also store the analysis' tempo and key.

    A library-mode analysis (sampled, or int8) leaves a model's current full analysis as it is (the track
    was selected for another model): the labels then come from the stored rows, full and new, through the
    heads."""
    now = utc_now()
    existing = {row.model: row for row in track.analyses}
    kept_full = False
    for name, result in analysis.models.items():
        row = existing.get(name)
        if not analysis.is_full and row is not None and _current_full(row, track, cards[name]):
            kept_full = True
            continue
        if row is None:
            row = Analysis(model=name)
            track.analyses.append(row)
        taggram = np.asarray(result.taggram)
        row.model_version = cards[name].version
        row.fingerprint = track.fingerprint
        row.scores = result.as_dict()
        row.patch_seconds = float(analysis.patch_seconds)
        row.taggram = np.ascontiguousarray(taggram, dtype=np.float16).tobytes()
        row.n_patches = int(taggram.shape[0])
        row.embedding = np.ascontiguousarray(result.embedding, dtype=np.float32).tobytes()
        row.created_at = now
        # Library mode's answer (some patches, or the int8 networks): a full run redoes it.
        row.sampled = not analysis.is_full
        starts = np.ascontiguousarray(analysis.patch_starts_s, dtype=np.float32)
        row.patch_starts = starts.tobytes() if row.sampled else None
    if track.duration_s is None:  # some containers do not state it; the decoder counted it
        track.duration_s = float(analysis.duration_s)
    # Heads that ran on the new embeddings alone would disagree with a kept full row: run them on the rows.
    ran = {} if kept_full else analysis.head_scores()
    outputs, regression = missing_head_outputs(track, ran)
    rebuild_labels(track, vocabulary, outputs, regression)
    if analysis.tempo_key is not None and tempo_key_basis is not None:
        save_tempo_key(track, analysis.tempo_key, tempo_key_basis)


def keep_viewed_analysis(
    library: Library,
    path: str,
    analysis: TrackAnalysis,
    cards: Mapping[str, ModelCard],
    vocabulary: Vocabulary,
) -> int | None:
    """Store the full analysis the app's track view made of an indexed track in place of library mode's,
    so the review panel, the table and a later write show the scores the track view shows (Dark 26 %
    there, not the sampled 31 %). Returns the track's id when stored; None when ``path`` is not indexed
    (a file opened from elsewhere), failed its last read, changed since its scan (the next scan redoes
    it), or already has a current full analysis by every model."""
    if not analysis.is_full:
        return None
    key = path_key_of(path)
    try:
        st = os.stat(path)
    except OSError:
        return None

    def store(session: Session) -> int | None:
        track = session.scalar(select(Track).where(Track.path_key == key))
        if track is None or track.error is not None or track.missing_since is not None:
            return None
        if (track.size, track.mtime_ns) != (st.st_size, st.st_mtime_ns):
            return None
        rows = {row.model: row for row in track.analyses}
        if all(name in rows and _current_full(rows[name], track, cards[name]) for name in analysis.models):
            return None
        save_analysis(session, track, analysis, cards, vocabulary)
        session.commit()
        return track.id

    return with_retries(library, store)


def _current_full(row: Analysis, track: Track, card: ModelCard) -> bool:
    """Whether ``row`` is a full analysis of the track's present audio by the present model."""
    return not row.sampled and row.model_version == card.version and row.fingerprint == track.fingerprint


def save_tempo_key(track: Track, result: TempoKey, basis: str) -> None:
    """Store a track's tempo and key (each None with its reason), and what made them from which audio."""
    track.bpm = result.tempo.bpm
    track.bpm_confidence = float(result.tempo.confidence)
    track.bpm_reason = result.tempo.reason
    track.key = result.key.key.musical if result.key.key is not None else None
    track.key_confidence = float(result.key.confidence)
    track.key_reason = result.key.reason
    track.tempo_key_basis = basis
    track.tempo_key_fingerprint = track.fingerprint


def tempo_key_needed(session: Session, basis: str) -> list[Track]:
    """Tracks (present, readable) whose tempo and key are missing or were not made by ``basis`` from the
    track's present audio, by path."""
    query = (
        select(Track)
        .where(
            Track.missing_since.is_(None),
            Track.error.is_(None),
            or_(
                Track.tempo_key_basis.is_distinct_from(basis),
                Track.tempo_key_fingerprint.is_distinct_from(Track.fingerprint),
            ),
        )
        .order_by(Track.path, Track.id)
    )
    return list(session.scalars(query))


def load_analysis(session: Session, track: Track) -> dict[str, StoredAnalysis]:
    """Every model's stored analysis of ``track``: ``{model: StoredAnalysis}``, a named tuple
    ``(scores, taggram, embedding, patch_seconds, patch_starts_s, sampled)``."""
    rows = session.scalars(select(Analysis).where(Analysis.track_id == track.id).order_by(Analysis.model))
    stored = {}
    for row in rows:
        taggram = np.frombuffer(row.taggram, dtype=np.float16).reshape(row.n_patches, -1)
        stored[row.model] = StoredAnalysis(
            scores=dict(row.scores),
            taggram=taggram.astype(np.float32),
            embedding=np.frombuffer(row.embedding, dtype=np.float32).copy(),
            patch_seconds=row.patch_seconds,
            patch_starts_s=(
                np.frombuffer(row.patch_starts, dtype=np.float32).astype(np.float64)
                if row.patch_starts is not None
                else np.arange(row.n_patches, dtype=np.float64) * row.patch_seconds
            ),
            sampled=bool(row.sampled),
        )
    return stored


def analyse_pending(
    library: Library,
    analyzer: Analyzer,
    vocabulary: Vocabulary,
    *,
    on_result: ResultCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    decode_workers: int = 2,
    patch_budget: int | None = None,
    runner: AnalysisRunner = IN_PROCESS,
) -> AnalyseReport:
    """Analyse every track that lacks a current analysis by the analyzer's models, saving each result
    as it lands (``patch_budget``: library mode, that many patches per track; None: every patch, and a
    sampled analysis is then not current); then, when the analyzer has a tempo/key stage, estimate tempo
    and key of every track still lacking a current estimate from a decode alone. A file that fails gets
    ``Track.error`` (the next scan reads it again) and an entry in the report. ``should_stop()`` is polled
    between tracks (the GUI's cancel); ``on_result`` is called after each track of either pass.
    ``runner``: where the analyses run (this process, or a Ray cluster: services/ray_analysis.py).
    """
    started = time.perf_counter()
    versions = {name: card.version for name, card in analyzer.cards.items()}
    basis = analyzer.tempo_key.basis if analyzer.tempo_key is not None else None
    # A new vocabulary or head relabels what is already analysed (no audio decoded) before the rest.
    report_relabelled = with_retries(library, lambda session: relabel_if_stale(session, vocabulary))
    with library.session() as session:
        needed = analyses_needed(session, analyzer.model_names, versions, full=patch_budget is None)
        todo = [(t.id, t.path_key) for t in needed]
    report = AnalyseReport(pending=len(todo), relabelled=report_relabelled)
    # fsdecode gives the str the walk gave (surrogate escapes for non-UTF-8 bytes): it opens the same file.
    results = runner.analyse_files(
        analyzer,
        [os.fsdecode(key) for _, key in todo],
        decode_workers=decode_workers,
        patch_budget=patch_budget,
    )

    def save(result) -> Callable[[Session, Track], None]:
        return lambda session, track: save_analysis(
            session, track, result.analysis, analyzer.cards, vocabulary, basis
        )

    # closing(): after a stop or an error the decode threads stop at once.
    with closing(_store_each(library, todo, results, save, report, should_stop)) as stored:
        for track_id, result, cause in stored:
            if cause is None:
                report.analysed += 1
            if on_result is not None:
                on_result(track_id, result.analysis, cause)
    if basis is not None and not report.stopped:
        _estimate_tempo_key_pending(
            library, analyzer, basis, report, on_result, should_stop, decode_workers, runner
        )
    report.elapsed_s = time.perf_counter() - started
    return report


def _estimate_tempo_key_pending(
    library: Library,
    analyzer: Analyzer,
    basis: str,
    report: AnalyseReport,
    on_result: ResultCallback | None,
    should_stop: Callable[[], bool] | None,
    decode_workers: int,
    runner: AnalysisRunner,
) -> None:
    """The second pass: tempo and key from a decode alone for tracks whose analyses are current."""
    with library.session() as session:
        todo = [(t.id, t.path_key) for t in tempo_key_needed(session, basis)]
    report.tempo_key_pending = len(todo)
    results = runner.analyse_tempo_key_files(
        analyzer, [os.fsdecode(key) for _, key in todo], decode_workers=decode_workers
    )

    def save(result) -> Callable[[Session, Track], None]:
        return lambda _session, track: save_tempo_key(track, result.tempo_key, basis)

    with closing(_store_each(library, todo, results, save, report, should_stop)) as stored:
        for track_id, _result, cause in stored:
            if cause is None:
                report.tempo_key_only += 1
            if on_result is not None:
                on_result(track_id, None, cause)


def _store_each(
    library: Library,
    todo: list[tuple[int, bytes]],
    results: Iterator,
    save: Callable[[object], Callable[[Session, Track], None]],
    report: AnalyseReport,
    should_stop: Callable[[], bool] | None,
) -> Iterator[tuple[int, object, str | None]]:
    """Store each track's result as it arrives (``save(result)`` writes a success; a failure is recorded
    on the track and in ``report.errors``), retrying a transaction another writer won; yields
    ``(track id, result, cause or None)`` per track still indexed. Polls ``should_stop`` between tracks;
    closes ``results`` when done or closed."""
    try:
        for track_id, _ in todo:
            if should_stop is not None and should_stop():
                report.stopped = True
                return
            result = next(results)
            cause = None
            if result.error is not None:
                cause = getattr(result.error, "cause", None) or str(result.error)
            store = partial(_store_result, track_id=track_id, cause=cause, save=save(result))
            path_key = with_retries(library, store)
            if path_key is None:  # pruned meanwhile
                continue
            if cause is not None:
                report.errors.append((report_path(path_key), cause))
            yield track_id, result, cause
    finally:
        results.close()


def _store_result(
    session: Session, track_id: int, cause: str | None, save: Callable[[Session, Track], None]
) -> bytes | None:
    """One track's result in its own transaction: its error, or ``save(session, track)``. Returns the
    track's path_key (None: pruned meanwhile). Run again from a fresh read by ``with_retries`` when
    another writer (a second scan of the same tracks) stored it first."""
    track = session.get(Track, track_id)
    if track is None:
        return None
    if cause is not None:
        track.error = cause
    else:
        save(session, track)
    session.commit()
    return track.path_key


def _versions_by_model(
    model_names: Sequence[str], model_versions: Mapping[str, str] | Sequence[str]
) -> dict[str, str]:
    if isinstance(model_versions, Mapping):
        return {name: str(model_versions[name]) for name in model_names}
    if len(model_versions) != len(model_names):
        raise ValueError("model_versions must give one version per model name")
    return {name: str(version) for name, version in zip(model_names, model_versions, strict=True)}
