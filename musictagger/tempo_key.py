"""Tempo and key as one stage of the analysis pass: set up once, run on each decoded track, stored.

Like a Mixxx analyzer: ``TempoKeyStage(...)`` initialises (the preferred tempo range; essentia is
imported on the first track), ``stage.process(signal, rate)`` runs on the mono signal the analysis has
already decoded (no second decode), and the ``TempoKey`` it returns is what the index stores
(library/store.py) and `tag --json` prints. ``stage.basis`` names the estimators, their version and the
settings that shape the result; the index keeps it with each track, so a track whose basis differs (a new
version, another tempo range) is estimated again on the next scan, from a decode alone.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np

from musictagger.essentia_loader import essentia_standard
from musictagger.tempo import DEFAULT_RANGE, PULSE_CLARITY_MIN, TempoEstimate, check_range, estimate_tempo
from musictagger.tonality import KEY_PROFILE, TONAL_SHARE_MIN, KeyEstimate, estimate_key

log = logging.getLogger("musictagger.tempo_key")

# Raise when the estimators or their thresholds change: every track is then estimated again.
STAGE_VERSION = 1
#: A track's estimate that takes longer than this is stopped (its process killed): a 2-hour mix takes ~60 s.
ESTIMATE_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class TempoKey:
    """A track's tempo and key (each may be absent, with its reason)."""

    tempo: TempoEstimate
    key: KeyEstimate

    @property
    def bpm(self) -> float | None:
        return self.tempo.bpm

    def as_json(self) -> dict[str, object]:
        """What `tag --json` prints: bpm (one decimal), key in three notations, confidences, reasons."""
        key = self.key.key
        return {
            "bpm": None if self.tempo.bpm is None else round(self.tempo.bpm, 1),
            "bpm_confidence": round(self.tempo.confidence, 3),
            "bpm_reason": self.tempo.reason,
            "key": key.musical if key else None,
            "camelot": key.camelot if key else None,
            "open_key": key.open_key if key else None,
            "key_confidence": round(self.key.confidence, 3),
            "key_reason": self.key.reason,
        }


class TempoKeyStage:
    """Estimates tempo and key of each decoded track with one set of settings."""

    def __init__(self, tempo_range: tuple[float, float] = DEFAULT_RANGE):
        low, high = (float(v) for v in tempo_range)
        check_range(low, high)
        self.tempo_range = (low, high)
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()  # library mode starts tracks from two threads at once

    @property
    def basis(self) -> str:
        """What made a result: estimators, stage version, thresholds and the tempo range."""
        low, high = self.tempo_range
        return (
            f"v{STAGE_VERSION} percival pulse>={PULSE_CLARITY_MIN} {low:g}-{high:g}"
            f" | {KEY_PROFILE} tonal>={TONAL_SHARE_MIN}"
        )

    def process(self, signal: np.ndarray, sample_rate: int, key_signal: np.ndarray | None = None) -> TempoKey:
        """Tempo and key of one decoded track (see ``start``)."""
        return self.start(signal, sample_rate, key_signal).result()

    def start(
        self, signal: np.ndarray, sample_rate: int, key_signal: np.ndarray | None = None
    ) -> PendingTempoKey:
        """Begin estimating one decoded track in the stage's worker process; ``.result()`` waits for it.
        ``key_signal``: other samples of the same track for the key (library mode: see analysis.py).

        Why a process: essentia's estimators are one C++ call each that keeps Python's GIL for its whole
        run (1.5 s on a 5-minute track), which froze the app's window and every other thread meanwhile.
        In a process of its own the estimate also runs beside the taggers' networks, on another core.
        A crash or a hang there costs this track its tempo and key (with the reason), not the batch."""
        try:
            future = self._worker().submit(
                estimate_tempo_key, signal, sample_rate, self.tempo_range, key_signal
            )
        except (BrokenProcessPool, RuntimeError, OSError) as exc:
            self.close()
            return PendingTempoKey(None, _failed(f"tempo/key worker could not start ({exc})"))
        return PendingTempoKey(future, None, on_broken=self.close)

    def warm_up(self) -> None:
        """Start the worker process and load the estimators in it now, beside whatever the caller does
        next (loading the networks), so the first track does not wait the second or so that a new process,
        numpy and essentia take."""
        try:
            self._worker().submit(_load_estimators)
        except (BrokenProcessPool, RuntimeError, OSError) as exc:  # the first track will say why
            log.info("tempo/key worker could not start early (%s)", exc)

    def close(self) -> None:
        """End the worker process (a new one starts with the next track)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:  # a hung estimator does not stop by itself
                if process.is_alive():
                    process.kill()

    def _worker(self) -> ProcessPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                # spawn, never fork: the parent has torch's and Qt's threads running.
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=context, initializer=end_with_parent
                )
            return self._pool


@dataclass
class PendingTempoKey:
    """A track's tempo and key being estimated in the stage's process."""

    future: Future | None
    ready: TempoKey | None
    on_broken: Callable[[], None] | None = None

    def result(self) -> TempoKey:
        if self.ready is not None:
            return self.ready
        assert self.future is not None
        try:
            self.ready = self.future.result(timeout=ESTIMATE_TIMEOUT_S)
            return self.ready
        except FutureTimeout:
            self.ready = _failed(f"tempo/key estimation took over {ESTIMATE_TIMEOUT_S:.0f} s and was stopped")
        except BrokenProcessPool:
            self.ready = _failed("the tempo/key estimator crashed on this file")
        if self.on_broken is not None:  # the process is gone or stuck: the next track gets a new one
            self.on_broken()
        return self.ready


def _load_estimators() -> None:
    essentia_standard()


def end_with_parent() -> None:
    """The worker's initializer: end this process when the one that started it ends, however it ends.

    Why: a pool's worker holds its own end of the task pipe, so it never sees the pipe close; after the app
    or a ``tag`` run crashed or was killed (no shutdown), it waited for work for ever, a process per crash
    (about 40 MB each: an interpreter, numpy and essentia). The parent's sentinel is a pipe (a handle on
    Windows) that the system closes when the parent ends, whatever the cause."""
    parent = multiprocessing.parent_process()
    if parent is None:  # not started by multiprocessing: nothing to watch
        return

    def watch() -> None:
        parent.join()
        os._exit(0)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def _failed(reason: str) -> TempoKey:
    log.warning("%s", reason)
    return TempoKey(TempoEstimate(None, 0.0, reason), KeyEstimate(None, 0.0, 0.0, reason))


def estimate_tempo_key(
    signal: np.ndarray,
    sample_rate: int,
    tempo_range: tuple[float, float],
    key_signal: np.ndarray | None = None,
) -> TempoKey:
    """Tempo from ``signal``, key from ``key_signal`` (default: the same samples), in this process. An
    estimator that breaks gives no value and says why: the taggers' results of the same pass must not be
    lost to it."""
    try:
        tempo = estimate_tempo(signal, sample_rate, tempo_range)
    except Exception as exc:  # a library bug on one odd file; the batch and the other stages go on
        log.warning("tempo estimation failed: %s: %s", type(exc).__name__, exc)
        tempo = TempoEstimate(None, 0.0, f"tempo estimation failed ({type(exc).__name__}: {exc})")
    try:
        key = estimate_key(signal if key_signal is None else key_signal, sample_rate)
    except Exception as exc:
        log.warning("key estimation failed: %s: %s", type(exc).__name__, exc)
        key = KeyEstimate(None, 0.0, 0.0, f"key estimation failed ({type(exc).__name__}: {exc})")
    return TempoKey(tempo=tempo, key=key)
