"""The models a user's settings ask for, loaded once, and a library's scan + analysis.

models = Models.load(settings)                 # device, models, heads, batch size, decode workers
scan_report, analyse_report = scan_and_analyse(library, ["~/Music"], models, should_stop=cancelled)
for result in analyse_paths(["~/Music/new.flac"], models): ...   # no index: the printing `tag`
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from musictagger.analysis import AnalysisResult, Analyzer, TrackAnalysis
from musictagger.errors import ModelError
from musictagger.files import WalkError, iter_audio_files
from musictagger.library.db import Library
from musictagger.library.scanner import ProgressCallback, ScanReport, scan
from musictagger.library.store import (
    IN_PROCESS,
    AnalyseReport,
    AnalysisRunner,
    ResultCallback,
    analyse_pending,
    analyses_needed,
)
from musictagger.sampling import REFINE_MARGIN, REFINE_TIE_MARGIN, REFINE_Z
from musictagger.settings import Settings
from musictagger.taxonomy import Vocabulary
from musictagger.tempo_key import TempoKeyStage


@dataclass
class Models:
    """An Analyzer built from the settings' [analysis] table, the vocabulary, how many decode threads
    feed it and how many patches per track scan and batch tag analyse (``patch_budget``: library mode,
    the default; None: every patch, ``[analysis] full`` / ``tag --full``). Loading takes seconds (the
    networks): load once, reuse for every track. The app's track view calls ``analyzer.analyse_file``,
    which is always full."""

    analyzer: Analyzer
    vocabulary: Vocabulary
    decode_workers: int = 2
    patch_budget: int | None = None

    @classmethod
    def load(cls, settings: Settings, *, vocabulary: Vocabulary | None = None) -> Models:
        """Raises ModelError (no such model or head), DeviceError, VocabularyError: the run cannot start."""
        analysis = settings.analysis
        if vocabulary is None:
            vocabulary = settings.load_vocabulary()  # first: a bad vocabulary fails before the models load
        analyzer = Analyzer(
            analysis.models,
            device=analysis.device,
            precision=analysis.precision,
            library_precision=analysis.library_precision,
            batch_size=analysis.batch_size,
            heads=_with_labelling_heads(analysis.heads_to_run(), analysis.models, vocabulary),
            tempo_key=TempoKeyStage(analysis.tempo_range) if analysis.tempo_key else None,
            refine=near_a_threshold(vocabulary),
        )
        return cls(
            analyzer=analyzer,
            vocabulary=vocabulary,
            decode_workers=analysis.workers,
            patch_budget=analysis.patch_budget(),
        )

    def describe(self) -> str:
        """``models A, B, heads C on <device>``: what a run says it uses."""
        heads = f", heads {', '.join(self.analyzer.heads)}" if self.analyzer.heads else ""
        tempo_key = ", tempo and key" if self.analyzer.tempo_key is not None else ""
        mode = "every patch" if self.patch_budget is None else f"{self.patch_budget} patches per track"
        if self.patch_budget is not None and self.analyzer.library_int8:
            mode += " in int8"
        return (
            f"models {', '.join(self.analyzer.model_names)}{heads}{tempo_key} on {self.analyzer.device_name}"
            f", {mode}"
        )


def pending_analyses(library: Library, models: Models) -> int:
    """How many tracks the next analysis pass will analyse (a progress bar's total)."""
    analyzer = models.analyzer
    versions = {name: card.version for name, card in analyzer.cards.items()}
    with library.session() as session:
        return len(analyses_needed(session, analyzer.model_names, versions, full=models.patch_budget is None))


def near_a_threshold(
    vocabulary: Vocabulary,
    margin: float = REFINE_MARGIN,
    z: float | None = REFINE_Z,
    tie_margin: float | None = REFINE_TIE_MARGIN,
) -> Callable[[TrackAnalysis], bool]:
    """Library mode's closer look (``Analyzer.refine``): whether other patches of a sampled track could well
    change what it gets. Either a genre or mood lies within ``margin`` of its calibrated threshold (what a
    write takes), or a tagger's third and fourth raw tags lie within ``tie_margin`` of each other (its
    top three, shown as hints); and, with ``z``, that distance is also under ``z`` times its sampling error.

    The sampling error is the jackknife's (``TrackAnalysis.leave_one_out``: the value with each patch
    left out in turn), shrunk by the share of the track's patches the sample already holds. A score that
    is near its threshold but barely moves whichever patch is left out needs no closer look. ``z`` None,
    or an analysis without leave-one-out scores: the margins alone decide."""
    watched = [
        (label.name, threshold)
        for category in ("genre", "mood")
        for label in vocabulary.in_category(category)
        if (threshold := vocabulary.threshold(label.name)) is not None
    ]

    def too_close(analysis: TrackAnalysis) -> bool:
        # Each close call: its distance (to the threshold, or between the tied tags) and how to read that
        # distance from a leave-one-out replica's raw scores and canonical scores.
        calls: list[tuple[float, Callable[[dict, dict], float]]] = []
        scores = vocabulary.canonical_scores(analysis.label_scores())
        for name, threshold in watched:
            distance = scores.get(name, 0.0) - threshold
            if abs(distance) < margin:
                calls.append((distance, lambda _raw, canon, n=name, t=threshold: canon.get(n, 0.0) - t))
        for model, result in analysis.models.items() if tie_margin is not None else ():
            if len(result.labels) < 4:
                continue
            third, fourth = np.argsort(-result.scores, kind="stable")[2:4]
            gap = float(result.scores[third] - result.scores[fourth])
            if gap < tie_margin:
                a, b = result.labels[third], result.labels[fourth]
                calls.append((gap, lambda raw, _canon, m=model, a=a, b=b: raw[m][a] - raw[m][b]))
        replicas = analysis.leave_one_out
        if not calls or z is None or len(replicas) < 3:
            return bool(calls)
        n = len(replicas)
        unsampled = math.sqrt(max(0.0, 1.0 - n / analysis.n_patches_in_track))  # finite-population share
        canonical = [vocabulary.canonical_scores(replica) for replica in replicas]
        for distance, read in calls:
            values = np.array([read(raw, canon) for raw, canon in zip(replicas, canonical, strict=True)])
            error = math.sqrt((n - 1) / n * float(((values - values.mean()) ** 2).sum())) * unsampled
            if abs(distance) < z * error:
                return True
        return False

    return too_close


def scan_and_analyse(
    library: Library,
    paths: Sequence[str | os.PathLike],
    models: Models | None,
    *,
    on_scan_progress: ProgressCallback | None = None,
    on_track: ResultCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    read_workers: int | None = None,
    runner: AnalysisRunner = IN_PROCESS,
) -> tuple[ScanReport | None, AnalyseReport | None]:
    """Bring the index up to date with ``paths`` (library.scanner.scan), then analyse every track that
    lacks a current analysis by ``models`` (library.store.analyse_pending), and estimate tempo and key
    of every track that lacks a current estimate (a decode alone where the analyses are current).

    No paths: analyse only (ScanReport None). ``models`` None: scan only (AnalyseReport None); so is a
    scan that ``should_stop()`` ended. ``on_scan_progress(report so far, path)`` after each file,
    ``on_track(track id, analysis or None, error or None)`` after each analysed track. ``runner``: where
    the analyses run (this process; a Ray cluster: services/ray_analysis.py), stored here alike.
    """
    scan_report = None
    if paths:
        scan_report = scan(
            library, paths, on_progress=on_scan_progress, should_stop=should_stop, read_workers=read_workers
        )
        if scan_report.stopped:
            return scan_report, None
    if models is None:
        return scan_report, None
    analyse_report = analyse_pending(
        library,
        models.analyzer,
        models.vocabulary,
        on_result=on_track,
        should_stop=should_stop,
        decode_workers=models.decode_workers,
        patch_budget=models.patch_budget,
        runner=runner,
    )
    return scan_report, analyse_report


def audio_files(paths: Iterable[str | os.PathLike]) -> tuple[list[str], list[WalkError]]:
    """The audio files under ``paths`` (walked recursively, stable order) and the paths that failed."""
    files: list[str] = []
    errors: list[WalkError] = []
    for item in iter_audio_files(paths):
        (errors if isinstance(item, WalkError) else files).append(item)
    return files, errors


def analyse_paths(
    files: Sequence[str],
    models: Models,
    *,
    should_stop: Callable[[], bool] | None = None,
    runner: AnalysisRunner = IN_PROCESS,
) -> Iterator[AnalysisResult]:
    """Analyse audio files without any index, in order (decoding ahead on ``models.decode_workers``
    threads, ``models.patch_budget`` patches per track); a file that fails gives a result with its
    error. Stops before the next file once ``should_stop()`` is true. ``runner``: as scan_and_analyse's."""
    results = runner.analyse_files(
        models.analyzer, list(files), decode_workers=models.decode_workers, patch_budget=models.patch_budget
    )
    try:
        for result in results:
            yield result
            if should_stop is not None and should_stop():
                return
    finally:
        results.close()


def _with_labelling_heads(
    heads: tuple[str, ...] | None, models: Sequence[str] | None, vocabulary: Vocabulary
) -> tuple[str, ...] | None:
    """The heads to run, plus those the written tags come from whatever the settings say: the heads the
    vocabulary's labels read (calibrated genres and moods) and the regression heads (energy, valence),
    when their input models run. ``--no-heads`` means no *extra* heads, never no genre."""
    if heads is None:
        return None  # every head whose models run
    from musictagger.catalog import available_models
    from musictagger.heads.model import available_heads, load_head

    running = set(models) if models else set(available_models())
    named = {model for label in vocabulary.labels for model in label.sources}
    wanted = list(heads)
    for name in available_heads():
        if name in wanted:
            continue
        try:
            card = load_head(name)[1]
        except ModelError:
            continue  # a broken head is reported when asked for by name
        if (name in named or card.task == "regression") and set(card.inputs) <= running:
            wanted.append(name)
    return tuple(wanted)
