"""Throughput of decoding and of full analysis, and peak memory on a long mix. Prints a table.

    .venv/bin/python bench/bench_analysis.py [FOLDER] [--devices cpu,cuda] [--long-minutes 120]

FOLDER defaults to ../shared/audio (the project's shared recordings) when it is there. Each row reads:
tracks/s, and "x real time" = seconds of audio handled per second of wall time (higher is faster).
"decode" is load_audio alone (container decode + resample to 16 kHz mono); "analyse" is the whole
CLI path (decode in worker threads overlapped with the log-mel front end and both musicnn models).
With --original-tf PYTHON, the same files also go through the original musicnn pipeline (librosa
front end + the TF1 graphs) run by that interpreter, e.g. a throwaway venv with tensorflow-cpu.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from musictagger.analysis import Analyzer, analyse_files  # noqa: E402
from musictagger.audio import load_audio, probe_audio  # noqa: E402
from musictagger.device import resolve_device  # noqa: E402
from musictagger.files import iter_audio_files  # noqa: E402

DEFAULT_FOLDER = ROOT.parent / "shared" / "audio"


def audio_files(folder: Path) -> list[str]:
    return [f for f in iter_audio_files([folder]) if isinstance(f, str)]


def bench_decode(files: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    seconds = 0.0
    for f in files:
        seconds += len(load_audio(f)) / 16000
    return time.perf_counter() - start, seconds


def bench_analyse(files: list[str], device: str, workers: int) -> tuple[float, float, int]:
    analyzer = Analyzer(device=device)
    analyzer.analyse_file(files[0])  # warm-up: first-call allocations and kernel selection
    start = time.perf_counter()
    seconds, failed = 0.0, 0
    for result in analyse_files(analyzer, files, decode_workers=workers):
        if result.error:
            failed += 1
        else:
            seconds += result.analysis.duration_s
    if analyzer.device.type == "cuda":
        import torch

        torch.cuda.synchronize()
    return time.perf_counter() - start, seconds, failed


def row(name: str, n: int, elapsed: float, seconds: float) -> str:
    return (
        f"| {name:<28} | {n:>6} | {seconds:>9.1f} | {elapsed:>8.2f} | {n / elapsed:>8.2f} "
        f"| {seconds / elapsed:>11.1f} |"
    )


def long_mix_memory(minutes: float, files: list[str]) -> list[str]:
    """Peak RSS of decoding and of analysing a generated long 44.1 kHz stereo FLAC, each in a new process."""
    import numpy as np
    import soundfile as sf

    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        mix = Path(tmp) / "long_mix.flac"
        source = load_audio(files[0], sample_rate=44100)
        stereo = np.stack([source, source[::-1]], axis=1)
        total = int(minutes * 60 * 44100)
        with sf.SoundFile(mix, "w", samplerate=44100, channels=2, format="FLAC") as out:
            written = 0
            while written < total:
                block = stereo[: total - written]
                out.write(block)
                written += len(block)
        calls = {  # each in a new process; the baseline is torch + models before any audio
            "baseline": "Analyzer(device='cpu')",
            "decode": f"load_audio({str(mix)!r})",
            "analyse": f"Analyzer(device='cpu').analyse_file({str(mix)!r})",
        }
        for what, call in calls.items():
            code = (
                f"import resource, sys, time; sys.path.insert(0, {str(ROOT)!r})\n"
                "from musictagger.audio import load_audio\n"
                "from musictagger.analysis import Analyzer\n"
                f"t = time.perf_counter(); x = {call}\n"
                "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
            )
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            elapsed, rss_kb = out.stdout.split()
            lines.append(
                f"| {what:<8} | {minutes:.0f}-min 44.1 kHz stereo FLAC "
                f"| peak RSS {int(rss_kb) / 1024:,.0f} MiB | {float(elapsed):.1f} s |"
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--devices", default="cpu,cuda", help="devices to try (missing ones are skipped)")
    parser.add_argument("--workers", type=int, default=2, help="decoding threads for the analyse rows")
    parser.add_argument(
        "--long-minutes",
        type=float,
        default=0,
        help="also measure peak memory on a long mix (the baseline row: importing torch and loading models)",
    )
    parser.add_argument(
        "--original-tf", metavar="PYTHON", help="interpreter with tensorflow for the original"
    )
    parser.add_argument("--musicnn-dir", type=Path, help="musicnn wheel's package folder (with MSD_musicnn/)")
    args = parser.parse_args()

    if not args.folder.is_dir():
        print(f"bench: no folder {args.folder} (../shared is absent outside the dev machines); pass one")
        return 0
    files = audio_files(args.folder)
    total_bytes = sum(os.path.getsize(f) for f in files)
    duration = sum(probe_audio(f).duration_s for f in files)
    print(
        f"{len(files)} files, {total_bytes / 1e6:.1f} MB, {duration / 60:.1f} min of audio in {args.folder}"
    )
    print(f"machine: {os.cpu_count()} CPU cores; torch threads {__import__('torch').get_num_threads()}")
    print()
    print("| what                         | tracks | audio (s) | wall (s) | tracks/s | x real time |")
    print("|------------------------------|--------|-----------|----------|----------|-------------|")
    elapsed, seconds = bench_decode(files)
    print(row("decode only (1 thread)", len(files), elapsed, seconds))
    for spec in filter(None, args.devices.split(",")):
        try:
            device = resolve_device(spec)
        except Exception as exc:  # a device this machine lacks is a skipped row, not a failure
            print(f"| analyse on {spec:<17} | skipped: {exc}")
            continue
        elapsed, seconds, failed = bench_analyse(files, str(device), args.workers)
        label = f"analyse on {device.type} ({args.workers} dec.)"
        print(row(label, len(files) - failed, elapsed, seconds))
    if args.original_tf:
        print(original_row(args, files))
    if args.long_minutes:
        print()
        for line in long_mix_memory(args.long_minutes, files):
            print(line)
    return 0


def original_row(args: argparse.Namespace, files: list[str]) -> str:
    """Times the original pipeline (librosa + TF graphs) in another interpreter: tools/original_musicnn.py."""
    script = ROOT / "tools" / "original_musicnn.py"
    cmd = [args.original_tf, str(script), "--musicnn-dir", str(args.musicnn_dir), "--time", *files]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return f"| original musicnn (TF)        | failed: {out.stderr.strip().splitlines()[-1:]} |"
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return row("original musicnn (TF, CPU)", result["n"], result["elapsed"], result["seconds"])


if __name__ == "__main__":
    sys.exit(main())
