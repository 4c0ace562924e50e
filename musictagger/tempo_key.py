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
from dataclasses import dataclass

import numpy as np

from musictagger.tempo import DEFAULT_RANGE, PULSE_CLARITY_MIN, TempoEstimate, check_range, estimate_tempo
from musictagger.tonality import KEY_PROFILE, TONAL_SHARE_MIN, KeyEstimate, estimate_key

log = logging.getLogger("musictagger.tempo_key")

# Raise when the estimators or their thresholds change: every track is then estimated again.
STAGE_VERSION = 1


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

    @property
    def basis(self) -> str:
        """What made a result: estimators, stage version, thresholds and the tempo range."""
        low, high = self.tempo_range
        return (
            f"v{STAGE_VERSION} percival pulse>={PULSE_CLARITY_MIN} {low:g}-{high:g}"
            f" | {KEY_PROFILE} tonal>={TONAL_SHARE_MIN}"
        )

    def process(self, signal: np.ndarray, sample_rate: int) -> TempoKey:
        """Tempo and key of one decoded track. An estimator that breaks gives no value and says why: the
        taggers' results of the same pass must not be lost to it."""
        try:
            tempo = estimate_tempo(signal, sample_rate, self.tempo_range)
        except Exception as exc:  # a library bug on one odd file; the batch and the other stages go on
            log.warning("tempo estimation failed: %s: %s", type(exc).__name__, exc)
            tempo = TempoEstimate(None, 0.0, f"tempo estimation failed ({type(exc).__name__}: {exc})")
        try:
            key = estimate_key(signal, sample_rate)
        except Exception as exc:
            log.warning("key estimation failed: %s: %s", type(exc).__name__, exc)
            key = KeyEstimate(None, 0.0, 0.0, f"key estimation failed ({type(exc).__name__}: {exc})")
        return TempoKey(tempo=tempo, key=key)
