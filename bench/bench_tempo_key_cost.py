"""What tempo and key add to the analysis of a track: the ratio of their time to the rest, in one run.

    .venv/bin/python bench/bench_tempo_key_cost.py [FOLDER] [--seconds 60] [--device cpu]

FOLDER defaults to ../shared/audio/music (16 licensed recordings of many styles); the benchmark says so
and exits when it is missing. Each track is decoded once at 16 kHz (as the analysis does) and cut to its
first ``--seconds`` (both costs grow linearly with length, so the ratio does not depend on it; 0 = whole
tracks). Per track, alternately on the same signal, it times the analysis as the app runs it without the
stage (``Analyzer.analyse_decoded``: log-mel, both musicnn taggers, the heads) and the tempo/key stage
alone (``TempoKeyStage.process``), so both see the same load on a shared machine. Target (issue 13):
tempo and key add at most 15 % to the analysis time per track.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from musictagger.analysis import Analyzer  # noqa: E402
from musictagger.audio import load_audio  # noqa: E402
from musictagger.files import iter_audio_files  # noqa: E402
from musictagger.tempo_key import TempoKeyStage  # noqa: E402

DEFAULT_FOLDER = ROOT.parent / "shared" / "audio" / "music"
TARGET = 0.15


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--seconds", type=float, default=60.0, help="first N s of each track (0: whole)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"{args.folder} is missing: this benchmark needs ../shared/audio/music (not in a clone)")
        return 0
    files = [f for f in iter_audio_files([args.folder]) if isinstance(f, str)]
    analyzer = Analyzer(device=args.device)  # no stage: the analysis as it was before tempo and key
    stage = TempoKeyStage()
    rate = analyzer.tempo_key_rate
    warm = load_audio(files[0], sample_rate=rate)[: rate * 10]
    analyzer.analyse_decoded(files[0], {rate: warm})  # warm-up: allocations, kernel choice
    stage.process(warm, rate)  # warm-up: essentia and librosa imported

    print(
        f"{len(files)} tracks from {args.folder}, {args.seconds or 'whole'} s each, on {analyzer.device_name}"
    )
    print(f"| {'track':<40} | {'audio s':>7} | {'analysis s':>10} | {'tempo+key s':>11} | {'ratio':>6} |")
    print(f"|{'-' * 42}|{'-' * 9}|{'-' * 12}|{'-' * 13}|{'-' * 8}|")
    total_analysis = total_stage = total_audio = 0.0
    for path in files:
        signal = load_audio(path, sample_rate=rate)
        if args.seconds:
            signal = signal[: int(args.seconds * rate)]
        start = time.perf_counter()
        analyzer.analyse_decoded(path, {rate: signal})
        analysis_s = time.perf_counter() - start
        start = time.perf_counter()
        result = stage.process(signal, rate)
        stage_s = time.perf_counter() - start
        seconds = len(signal) / rate
        total_analysis += analysis_s
        total_stage += stage_s
        total_audio += seconds
        shown = f"{Path(path).name[:30]} {result.tempo.bpm or '-'} {result.key.key or '-'}"
        print(
            f"| {shown[:40]:<40} | {seconds:>7.1f} | {analysis_s:>10.2f} | {stage_s:>11.2f} "
            f"| {stage_s / analysis_s:>6.1%} |"
        )
    ratio = total_stage / total_analysis
    print(
        f"\nall: {total_audio:.0f} s of audio; analysis {total_analysis:.1f} s, "
        f"tempo+key {total_stage:.1f} s ({1000 * total_stage / total_audio:.1f} ms per second of audio): "
        f"tempo and key add {ratio:.1%} "
        f"to the analysis time (target <= {TARGET:.0%}: {'met' if ratio <= TARGET else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
