"""What malloc tuning (musictagger/memory.py) does to the analysis: page faults, kernel time, wall time.

    .venv/bin/python bench/bench_allocator.py [--files 3] [--rounds 2]

Runs the same analysis (Analyzer + analyse_files on the first N tracks of ../shared/audio/music, CPU,
every shipped tagger, no heads) in fresh processes, alternating glibc's defaults
(MUSICTAGGER_MALLOC=default) and the tuned allocator, and prints per run: wall, user and system seconds,
minor page faults and peak RSS, then the medians. Both must give the same scores (checked).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUSIC = ROOT.parent / "shared" / "audio" / "music"


def child(files: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from musictagger.analysis import Analyzer, analyse_files
    from musictagger.memory import tune_allocator

    analyzer = Analyzer(device="cpu", heads=())
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    scores = {}
    for result in analyse_files(analyzer, files):
        if result.analysis is None:
            raise SystemExit(f"{result.path}: {result.error}")
        scores[result.path] = {
            name: [round(float(v), 5) for v in out.scores] for name, out in result.analysis.models.items()
        }
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "tuned": tune_allocator(),
                "wall": time.perf_counter() - started,
                "user": after.ru_utime - before.ru_utime,
                "sys": after.ru_stime - before.ru_stime,
                "minflt": after.ru_minflt - before.ru_minflt,
                "maxrss_mb": after.ru_maxrss / 1024,
                "scores": scores,
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return 0
    if not MUSIC.is_dir():
        print(f"skipped: {MUSIC} is missing (the shared data set)")
        return 0
    files = [str(p) for p in sorted(MUSIC.iterdir()) if p.suffix in (".ogg", ".mp3", ".opus")][: args.files]
    runs: dict[str, list[dict]] = {"default": [], "tuned": []}
    for round_ in range(args.rounds):
        for mode in ("default", "tuned"):
            env = dict(os.environ, MUSICTAGGER_MALLOC=mode)
            out = (
                subprocess.run(
                    [sys.executable, __file__, "--child", *files],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            run = json.loads(out)
            runs[mode].append(run)
            print(
                f"round {round_ + 1} {mode:>7}: wall {run['wall']:6.1f} s  user {run['user']:6.1f} s  "
                f"sys {run['sys']:5.1f} s  minor faults {run['minflt']:>10,}  "
                f"peak RSS {run['maxrss_mb']:6.0f} MB",
                flush=True,
            )
    same = all(a["scores"] == b["scores"] for a, b in zip(runs["default"], runs["tuned"], strict=True))
    print(f"{len(files)} files, {args.rounds} rounds; identical scores: {same}")
    for key in ("wall", "user", "sys", "minflt", "maxrss_mb"):
        d, t = (statistics.median(r[key] for r in runs[m]) for m in ("default", "tuned"))
        ratio = t / d if d else float("nan")
        print(f"  median {key:>9}: default {d:12,.1f}  tuned {t:12,.1f}  ratio {ratio:.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
