"""``scan --ray`` on a local Ray cluster vs the local path: the same stored analyses? How long? (issue 15)

    .venv/bin/python bench/bench_ray.py [--cpus 2] [--music DIR]

Reads the 16 full-length tracks of ``../shared/audio/music`` (says so and exits 0 when it is missing) and
analyses them twice with the default settings (``Settings()``: every tagger and head, tempo and key,
library mode), each run into its own fresh SQLite index through ``services.analysis.scan_and_analyse``:
first in this process (the local path, ``scan``), then on a local Ray cluster of ``--cpus`` CPUs, one
worker per CPU (``scan --ray``). It prints:

- per run, the wall time of the scan and analysis; for Ray also the cluster's start and the workers'
  model loading, which a run pays once;
- the stored analyses compared track by track: labels (category, label, confident) equal, label scores,
  energy and every model's embedding and taggram as the largest absolute difference, tempo and key equal.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from musictagger.library import open_library  # noqa: E402
from musictagger.library.schema import Track  # noqa: E402
from musictagger.library.store import load_analysis  # noqa: E402
from musictagger.services.analysis import Models, scan_and_analyse  # noqa: E402
from musictagger.services.ray_analysis import RayRunner, connect  # noqa: E402
from musictagger.settings import Settings  # noqa: E402

MUSIC = ROOT.parent / "shared" / "audio" / "music"


def stored(url: Path) -> dict[str, dict]:
    """Per file name: error, labels, label scores, energy, tempo and key, every model's analysis."""
    with open_library(url) as library, library.session() as session:
        return {
            Path(track.path).name: {
                "error": track.error,
                "labels": sorted((lab.category, lab.label, lab.confident) for lab in track.labels),
                "scores": {(lab.category, lab.label): lab.score for lab in track.labels},
                "energy": track.energy,
                "bpm_key": (track.bpm, track.key),
                "analyses": load_analysis(session, track),
            }
            for track in session.scalars(select(Track))
        }


def compare(local: dict, remote: dict) -> dict[str, object]:
    same_labels = same_tempo_key = errors = 0
    score_diff = energy_diff = embedding_diff = taggram_diff = 0.0
    differing = []
    for name, mine in local.items():
        theirs = remote.get(name)
        if theirs is None or mine["error"] or theirs["error"]:
            errors += 1
            continue
        if mine["labels"] == theirs["labels"]:
            same_labels += 1
        else:
            differing.append(name)
        same_tempo_key += mine["bpm_key"] == theirs["bpm_key"]
        for label, score in mine["scores"].items():
            score_diff = max(score_diff, abs(score - theirs["scores"].get(label, np.inf)))
        if mine["energy"] is not None:
            energy_diff = max(energy_diff, abs(mine["energy"] - theirs["energy"]))
        for model, row in mine["analyses"].items():
            other = theirs["analyses"][model]
            embedding_diff = max(embedding_diff, float(np.max(np.abs(row.embedding - other.embedding))))
            if row.taggram.shape == other.taggram.shape:
                taggram_diff = max(taggram_diff, float(np.max(np.abs(row.taggram - other.taggram))))
            else:
                taggram_diff = np.inf
    return {
        "tracks": len(local),
        "only one side or failed": errors + len(set(remote) - set(local)),
        "labels equal": same_labels,
        "tempo and key equal": same_tempo_key,
        "label score max abs diff": score_diff,
        "energy max abs diff": energy_diff,
        "embedding max abs diff": embedding_diff,
        "taggram max abs diff": taggram_diff,
        "tracks whose labels differ": differing,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster (default 2)")
    parser.add_argument("--music", type=Path, default=MUSIC, help=f"folder of tracks (default {MUSIC})")
    args = parser.parse_args()
    if not args.music.is_dir():
        print(f"bench_ray: {args.music} is missing; nothing to measure")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench_ray-") as scratch:
        # No user's settings, models or heads: the shipped defaults on both sides.
        for name in ("DATA", "CONFIG", "CACHE", "LOG"):
            os.environ[f"MUSICTAGGER_{name}_DIR"] = str(Path(scratch) / name.lower())
        settings = Settings().replace(analysis={"device": "cpu"})
        models = Models.load(settings)
        print(f"bench_ray: {sum(1 for p in args.music.iterdir() if p.is_file())} files in {args.music}")
        print(f"bench_ray: {models.describe()}")
        print(f"bench_ray: load average before {os.getloadavg()[0]:.1f}")

        local_db, ray_db = Path(scratch) / "local.sqlite", Path(scratch) / "ray.sqlite"
        started = time.perf_counter()
        with open_library(local_db) as library:
            _, local_report = scan_and_analyse(library, [args.music], models)
        local_s = time.perf_counter() - started
        print(
            f"local path: {local_report.analysed} analysed, {len(local_report.errors)} failed, "
            f"{local_s:.1f} s"
        )

        started = time.perf_counter()
        connect(None, num_cpus=args.cpus)
        cluster_s = time.perf_counter() - started
        with RayRunner.start(settings, models) as runner:
            ready_s = time.perf_counter() - started
            with open_library(ray_db) as library:
                _, ray_report = scan_and_analyse(library, [args.music], models, runner=runner)
            ray_s = time.perf_counter() - started
            workers = runner.describe()
        import ray

        ray.shutdown()
        print(
            f"ray ({workers}): {ray_report.analysed} analysed, {len(ray_report.errors)} failed, "
            f"{ray_s:.1f} s in all: cluster started in {cluster_s:.1f} s, workers' models loaded by "
            f"{ready_s:.1f} s, scan and analysis {ray_s - ready_s:.1f} s"
        )
        print(f"bench_ray: load average after {os.getloadavg()[0]:.1f}")
        for key, value in compare(stored(local_db), stored(ray_db)).items():
            print(f"  {key}: {value:.2e}" if isinstance(value, float) else f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
