"""Tracks per second of the default ``tag`` vs the original musicnn pipeline, side by side (issue 14).

    .venv/bin/python bench/bench_throughput.py [--rounds 2] [--with-full] [FILES...]

Default files: the 16 tracks of ``../shared/audio/music`` (says so and exits when it is missing). The
original is ``../shared/tools/musicnn_bench.py`` (librosa.load at 16 kHz, librosa's mel, the TF1 graph of
the ``musicnn`` 0.1.0 wheel, MSD_musicnn alone) in the scratch venv ``../shared/tools/README.md`` sets up
(``--tf-python``, ``--musicnn-pkg``; oneDNN on, as a user's TensorFlow runs it). The project's side is
``main.py tag --json --quiet FILES`` with the default settings (a fresh, empty config folder): every tagger,
every head, tempo and key, library mode. ``--with-full`` also times ``tag --full``; ``--budgets 16,24``
the default tag with other ``[analysis] library_patches``.

Whole processes (start-up and model loading included), one at a time, in alternating order per round, so
both see the same machine: it is shared and noisy, and only ratios measured in the same run mean anything.
The 1-minute load average is printed before and after each run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MUSIC = SHARED / "audio" / "music"
TOOL = SHARED / "tools" / "musicnn_bench.py"


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{command[:3]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return elapsed, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", help="audio files (default: ../shared/audio/music/*)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--with-full", action="store_true", help="also time tag --full (every patch)")
    parser.add_argument(
        "--budgets", help="also time the default tag with these [analysis] library_patches (e.g. 16,24)"
    )
    parser.add_argument("--tf-python", default="/tmp/tfvenv/bin/python")
    parser.add_argument("--musicnn-pkg", default="/tmp/musicnn_pkg/musicnn")
    args = parser.parse_args()
    files = args.files or (sorted(str(p) for p in MUSIC.iterdir()) if MUSIC.exists() else [])
    if not files:
        print(f"{MUSIC} is missing (../shared not here): nothing to measure")
        return 0
    if not (Path(args.tf_python).exists() and TOOL.exists() and Path(args.musicnn_pkg).exists()):
        print(
            f"the original's set-up is missing ({args.tf_python}, {args.musicnn_pkg}): "
            f"see {TOOL.parent}/README.md"
        )
        return 1
    config = tempfile.mkdtemp(prefix="bench_throughput_")
    project_env = {**os.environ, "MUSICTAGGER_CONFIG_DIR": config, "MUSICTAGGER_LOG_DIR": config}
    tf_env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    runs = {
        "original MSD_musicnn": (
            [args.tf_python, str(TOOL), args.musicnn_pkg, "MSD_musicnn", *files],
            tf_env,
        ),
        "tag (default)": ([sys.executable, "main.py", "tag", "--json", "--quiet", *files], project_env),
    }
    for budget in args.budgets.split(",") if args.budgets else ():
        folder = tempfile.mkdtemp(prefix=f"bench_throughput_{budget}_")
        Path(folder, "settings.toml").write_text(f"[analysis]\nlibrary_patches = {int(budget)}\n")
        env = {**project_env, "MUSICTAGGER_CONFIG_DIR": folder}
        runs[f"tag, {budget} patches"] = (
            [sys.executable, "main.py", "tag", "--json", "--quiet", *files],
            env,
        )
    if args.with_full:
        runs["tag --full"] = (
            [sys.executable, "main.py", "tag", "--json", "--quiet", "--full", *files],
            project_env,
        )
    print(f"{len(files)} files; {os.cpu_count()} CPUs; rounds {args.rounds}, order alternating")
    walls: dict[str, list[float]] = {name: [] for name in runs}
    for round_no in range(args.rounds):
        names = list(runs) if round_no % 2 == 0 else list(reversed(runs))
        for name in names:
            command, env = runs[name]
            load = os.getloadavg()[0]
            wall, out = timed(command, env)
            walls[name].append(wall)
            note = out.strip().splitlines()[-1] if name.startswith("original") else ""
            print(
                f"round {round_no + 1} {name:22s} wall {wall:7.1f} s  {len(files) / wall:.3f} tracks/s"
                f"  (load {load:.2f} -> {os.getloadavg()[0]:.2f}) {note}",
                flush=True,
            )
    original = walls["original MSD_musicnn"]
    print()
    for name, values in walls.items():
        ratios = [o / w for o, w in zip(original, values, strict=True)]
        print(
            f"{name:22s} median wall {statistics.median(values):7.1f} s, "
            f"{len(files) / statistics.median(values):.3f} tracks/s; "
            f"tracks/s vs the original, per round: {', '.join(f'{r:.2f}x' for r in ratios)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
