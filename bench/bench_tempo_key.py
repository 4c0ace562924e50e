"""Tempo and key estimators on GTZAN (gtzan_mini): accuracy with 95 % bootstrap intervals, seconds per track.

    .venv/bin/python bench/bench_tempo_key.py [--labels ../shared/eval/gtzan_mini/labels.csv]
                                              [--only shipped] [--bootstrap 10000]

Reads ``../shared/eval/gtzan_mini`` (40 clips of 30 s; tempo from Marchand & Peeters' GTZAN tempo
annotations, key from Kraft & Lerch's GTZAN key annotations); says so and exits when it is missing.
Every clip is decoded once, as the analysis decodes it (``audio.load_audio``: mono float32 at 16 kHz),
and every candidate reads that signal; a candidate that needs another rate resamples inside (soxr, as
the analysis does), and its time includes that.

Measures, per candidate:
- tempo Accuracy-1: the estimate within 4 % of the annotation; Accuracy-2: also within 4 % of ×2, ×½,
  ×3 or ×⅓ of it (Gouyon et al. 2006). Tempo candidates are read after folding into the preferred
  range (70–180 BPM, the analysis default), as the product reports them.
- key MIREX weighted score over the clips with a key annotation: 1 for the same key, 0.5 for the key a
  fifth above (same mode), 0.3 for the relative, 0.2 for the parallel, else 0 — mir_eval's definition.
- seconds per track of that estimator alone (one thread; the 16 kHz decode is shared and not counted).
``--only shipped`` measures only what the analysis ships (``musictagger.tempo`` / ``musictagger.tonality``).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from musictagger.audio import load_audio  # noqa: E402
from musictagger.keys import Key, Mode, parse_key  # noqa: E402

DEFAULT_LABELS = ROOT.parent / "shared" / "eval" / "gtzan_mini" / "labels.csv"
RATE = 16000
PREFERRED = (70.0, 180.0)


@dataclass(frozen=True)
class Clip:
    path: Path
    genre: str
    bpm: float | None
    key: Key | None


def read_clips(labels: Path) -> list[Clip]:
    clips = []
    with labels.open(newline="") as f:
        for row in csv.DictReader(f):
            bpm = float(row["bpm"]) if row.get("bpm") else None
            key = parse_key(row["key"]) if row.get("key") else None
            clips.append(Clip(labels.parent / row["file"], row["genre"], bpm, key))
    return clips


# --- metrics -------------------------------------------------------------------------------------------


def fold(bpm: float, low: float = PREFERRED[0], high: float = PREFERRED[1]) -> float:
    while bpm < low:
        bpm *= 2
    while bpm > high:
        bpm /= 2
    return bpm


def tempo_hits(estimate: float | None, reference: float, factors: tuple[float, ...]) -> bool:
    if estimate is None or not estimate > 0:
        return False
    return any(abs(estimate - reference * f) <= 0.04 * reference * f for f in factors)


ACC1 = (1.0,)
ACC2 = (1.0, 2.0, 0.5, 3.0, 1 / 3)


def mirex_key_score(estimate: Key | None, reference: Key) -> float:
    """mir_eval.key.weighted_score: exact 1, fifth above (same mode) 0.5, relative 0.3, parallel 0.2."""
    if estimate is None:
        return 0.0
    if estimate == reference:
        return 1.0
    if estimate.mode == reference.mode and (estimate.pitch_class - reference.pitch_class) % 12 == 7:
        return 0.5
    if estimate == reference.relative():
        return 0.3
    if estimate == reference.parallel():
        return 0.2
    return 0.0


def bootstrap(values: np.ndarray, rounds: int, seed: int = 0) -> tuple[float, float, float]:
    """Mean and its 95 % percentile bootstrap interval over the clips."""
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(rounds, len(values)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(values.mean()), float(low), float(high)


# --- candidates ----------------------------------------------------------------------------------------
# Each takes the 16 kHz mono signal and returns a tempo in BPM (tempo candidates) or a Key (key
# candidates), or None when it gives no answer.

# Krumhansl & Kessler (1982) probe-tone ratings and Temperley's (1999) Kostka-Payne profiles, C tonic.
KRUMHANSL = (
    [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88],
    [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17],
)
TEMPERLEY = (
    [5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0],
    [5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0],
)


def librosa_tempo(y: np.ndarray) -> float | None:
    import librosa

    tempo = librosa.feature.tempo(y=y, sr=RATE, hop_length=256)
    return float(tempo[0]) if tempo.size else None


def librosa_key(profiles) -> Callable[[np.ndarray], Key | None]:
    def estimate(y: np.ndarray) -> Key | None:
        import librosa

        chroma = librosa.feature.chroma_cqt(y=y, sr=RATE, hop_length=2048).mean(axis=1)
        if not np.any(chroma > 0):
            return None
        best, best_r = None, -np.inf
        for mode, profile in zip((Mode.MAJOR, Mode.MINOR), profiles, strict=True):
            for tonic in range(12):
                r = np.corrcoef(chroma, np.roll(profile, tonic))[0, 1]
                if r > best_r:
                    best, best_r = Key(tonic, mode), r
        return best

    return estimate


def _essentia():
    import essentia

    essentia.log.infoActive = False
    essentia.log.warningActive = False
    import essentia.standard as es

    return es


def _resample(y: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    return soxr.resample(y, RATE, rate, quality="HQ").astype(np.float32)


def essentia_percival(y: np.ndarray) -> float | None:
    es = _essentia()
    return float(es.PercivalBpmEstimator(sampleRate=RATE)(y)) or None


def essentia_rhythm2013(method: str) -> Callable[[np.ndarray], float | None]:
    def estimate(y: np.ndarray) -> float | None:
        es = _essentia()
        bpm = es.RhythmExtractor2013(method=method)(_resample(y, 44100))[0]
        return float(bpm) or None

    return estimate


def essentia_key(profile: str) -> Callable[[np.ndarray], Key | None]:
    def estimate(y: np.ndarray) -> Key | None:
        es = _essentia()
        key, scale, _strength = es.KeyExtractor(sampleRate=RATE, profileType=profile)(y)
        return parse_key(f"{key} {scale}")

    return estimate


def shipped_tempo(y: np.ndarray) -> float | None:
    from musictagger.tempo import estimate_tempo

    return estimate_tempo(y, RATE).bpm


def shipped_key(y: np.ndarray) -> Key | None:
    from musictagger.tonality import estimate_key

    return estimate_key(y, RATE).key


TEMPO_CANDIDATES: dict[str, Callable[[np.ndarray], float | None]] = {
    "librosa tempo (log-normal prior at 120)": librosa_tempo,
    "essentia PercivalBpmEstimator": essentia_percival,
    "essentia RhythmExtractor2013 degara": essentia_rhythm2013("degara"),
    "essentia RhythmExtractor2013 multifeature": essentia_rhythm2013("multifeature"),
}
KEY_CANDIDATES: dict[str, Callable[[np.ndarray], Key | None]] = {
    "librosa chroma_cqt + Krumhansl": librosa_key(KRUMHANSL),
    "librosa chroma_cqt + Temperley": librosa_key(TEMPERLEY),
    "essentia KeyExtractor edma": essentia_key("edma"),
    "essentia KeyExtractor bgate": essentia_key("bgate"),
    "essentia KeyExtractor temperley": essentia_key("temperley"),
    "essentia KeyExtractor krumhansl": essentia_key("krumhansl"),
}
SHIPPED_TEMPO = {"shipped: musictagger.tempo": shipped_tempo}
SHIPPED_KEY = {"shipped: musictagger.tonality": shipped_key}


def run(name: str, estimate: Callable, signals: list[np.ndarray]) -> tuple[list, float] | None:
    try:
        estimate(signals[0][: RATE * 5])  # warm-up: imports, JIT, plans
    except ImportError as exc:
        print(f"  {name}: skipped ({exc})")
        return None
    results = []
    start = time.perf_counter()
    for y in signals:
        results.append(estimate(y))
    return results, (time.perf_counter() - start) / len(signals)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--only", choices=["all", "shipped"], default="all")
    parser.add_argument("--bootstrap", type=int, default=10000)
    args = parser.parse_args(argv)
    if not args.labels.is_file():
        print(f"{args.labels} is missing: this benchmark needs ../shared/eval/gtzan_mini (not in a clone)")
        return 0
    clips = read_clips(args.labels)
    signals = [load_audio(c.path, sample_rate=RATE) for c in clips]
    with_bpm = [i for i, c in enumerate(clips) if c.bpm]
    with_key = [i for i, c in enumerate(clips) if c.key]
    print(f"gtzan_mini: {len(clips)} clips, {len(with_bpm)} with a tempo, {len(with_key)} with a key")

    tempo_candidates = SHIPPED_TEMPO if args.only == "shipped" else {**TEMPO_CANDIDATES, **SHIPPED_TEMPO}
    key_candidates = SHIPPED_KEY if args.only == "shipped" else {**KEY_CANDIDATES, **SHIPPED_KEY}

    print(f"\nTempo (folded into {PREFERRED[0]:.0f}–{PREFERRED[1]:.0f} BPM; 95 % bootstrap intervals)")
    print(f"| {'candidate':<44} | {'Accuracy-1':<20} | {'Accuracy-2':<20} | {'none':>4} | {'s/track':>7} |")
    print(f"|{'-' * 46}|{'-' * 22}|{'-' * 22}|{'-' * 6}|{'-' * 9}|")
    for name, estimate in tempo_candidates.items():
        ran = run(name, estimate, [signals[i] for i in with_bpm])
        if ran is None:
            continue
        estimates, per_track = ran
        folded = [fold(e) if e else None for e in estimates]
        refs = [clips[i].bpm for i in with_bpm]
        acc1 = bootstrap([tempo_hits(e, r, ACC1) for e, r in zip(folded, refs, strict=True)], args.bootstrap)
        acc2 = bootstrap([tempo_hits(e, r, ACC2) for e, r in zip(folded, refs, strict=True)], args.bootstrap)
        none = sum(e is None for e in estimates)
        print(
            f"| {name:<44} | {_interval(acc1):<20} | {_interval(acc2):<20} | {none:>4} | {per_track:>7.3f} |"
        )

    print("\nKey (MIREX weighted score; 95 % bootstrap intervals)")
    print(f"| {'candidate':<44} | {'weighted':<20} | {'exact':<20} | {'none':>4} | {'s/track':>7} |")
    print(f"|{'-' * 46}|{'-' * 22}|{'-' * 22}|{'-' * 6}|{'-' * 9}|")
    for name, estimate in key_candidates.items():
        ran = run(name, estimate, [signals[i] for i in with_key])
        if ran is None:
            continue
        estimates, per_track = ran
        refs = [clips[i].key for i in with_key]
        scores = [mirex_key_score(e, r) for e, r in zip(estimates, refs, strict=True)]
        weighted = bootstrap(scores, args.bootstrap)
        exact = bootstrap([s == 1.0 for s in scores], args.bootstrap)
        none = sum(e is None for e in estimates)
        print(
            f"| {name:<44} | {_interval(weighted):<20} | {_interval(exact):<20} | {none:>4} "
            f"| {per_track:>7.3f} |"
        )
    print("\nFloors (issue 13): tempo Accuracy-2 >= 0.85, key weighted >= 0.60.")
    return 0


def _interval(stat: tuple[float, float, float]) -> str:
    mean, low, high = stat
    return f"{mean:.3f} [{low:.2f}, {high:.2f}]"


if __name__ == "__main__":
    raise SystemExit(main())
