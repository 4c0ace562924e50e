"""What tempo and key read in library mode: the sampled patches joined, or a contiguous excerpt? (issue 14)

    .venv/bin/python bench/bench_library_tempo_key.py [FOLDER] [--budget 12]

FOLDER defaults to ``../shared/audio/music`` (says so and exits when it is missing). Each track is decoded
whole once (``audio.load_audio``, 16 kHz) and the shipped tempo/key stage (``TempoKeyStage``) reads:

- ``full``: the whole track (the full analysis' input, the reference here);
- ``joined``: the budget's patches (``sampling.spread_patches``) joined end to end, what library mode
  gives it (no decode beyond the networks');
- ``middle``: a contiguous excerpt of the same length from the middle of the track;
- ``runs``: budget/3 runs of 3 consecutive patches spread over the track, joined.

Per input, over the tracks longer than the budget: the tempo within 4 % of the full track's and the
same key as the full track's. GTZAN's annotations are in bench_library_mode.py (its clips are 30 s).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from musictagger.audio import load_audio  # noqa: E402
from musictagger.sampling import spread_patches  # noqa: E402
from musictagger.tempo_key import TempoKeyStage  # noqa: E402

RATE, HOP, PATCH_FRAMES = 16000, 256, 187
SPAN = PATCH_FRAMES * HOP  # samples per patch


def inputs(signal: np.ndarray, budget: int) -> dict[str, np.ndarray] | None:
    n_patches = max(1, (1 + len(signal) // HOP) // PATCH_FRAMES)
    chosen = spread_patches(n_patches, budget)
    if chosen is None:
        return None
    middle, half = len(signal) // 2, budget * SPAN // 2
    run_starts = [
        max(0, min(int(k) - 1, n_patches - 3)) for k in spread_patches(n_patches, max(1, budget // 3))
    ]
    return {
        "joined": np.concatenate([signal[k * SPAN : (k + 1) * SPAN] for k in chosen]),
        "middle": signal[middle - half : middle + half],
        "runs": np.concatenate([signal[k * SPAN : (k + 3) * SPAN] for k in run_starts]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT.parent / "shared" / "audio" / "music")
    parser.add_argument("--budget", type=int, default=12)
    args = parser.parse_args()
    if not args.folder.exists():
        print(f"{args.folder} is missing (../shared not here): nothing to measure")
        return 0
    stage = TempoKeyStage()
    tally = {name: [0, 0, 0] for name in ("joined", "middle", "runs")}  # tracks, tempo agrees, key agrees
    try:
        for path in sorted(args.folder.iterdir()):
            signal = load_audio(path, RATE)
            variants = inputs(signal, args.budget)
            if variants is None:
                print(f"{path.name}: no longer than {args.budget} patches, analysed in full")
                continue
            full = stage.process(signal, RATE)
            line = [f"{path.name}: full {full.tempo.bpm} {full.key.key}"]
            for name, piece in variants.items():
                got = stage.process(piece, RATE)
                reference, bpm = full.tempo.bpm, got.tempo.bpm
                tally[name][0] += 1
                tally[name][1] += reference == bpm or (
                    reference is not None and bpm is not None and abs(bpm - reference) <= 0.04 * reference
                )
                tally[name][2] += got.key.key == full.key.key
                line.append(f"{name} {bpm} {got.key.key}")
            print("; ".join(line), flush=True)
    finally:
        stage.close()
    print(f"\nbudget {args.budget} patches ({args.budget * SPAN / RATE:.0f} s of audio):")
    for name, (n, tempo, key) in tally.items():
        print(f"  {name:7s} tempo within 4 % of the full track's {tempo}/{n}, same key {key}/{n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
