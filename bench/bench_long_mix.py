"""Peak memory of library mode on a 2-hour mix (issue 14: at most 1.5 GB).

    .venv/bin/python bench/bench_long_mix.py [--hours 2] [--budget 16] [--keep PATH]

Makes the mix by concatenating the tracks of ``../shared/audio/music`` (decoded, 44.1 kHz mono, again and
again) into a temporary 16-bit FLAC, streamed block by block, so making it holds no more than a track
(says so and exits when ../shared is missing). Then a fresh process analyses it the way ``scan`` and batch
``tag`` do by default (services.analysis.Models.load(Settings()): every tagger, every head, tempo and key;
library mode) and prints its peak resident memory (``ru_maxrss`` of the child), its wall time and what it
found. The mix is deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from musictagger.audio import iter_audio_blocks  # noqa: E402
from musictagger.sampling import DEFAULT_PATCH_BUDGET  # noqa: E402

MUSIC = ROOT.parent / "shared" / "audio" / "music"
RATE = 44100

CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from musictagger.services.analysis import Models, analyse_paths
from musictagger.settings import Settings
settings = Settings().replace(analysis={{"library_patches": {budget}}})
models = Models.load(settings)
started = time.perf_counter()
(result,) = analyse_paths([{path!r}], models)
if result.error is not None:
    sys.exit(str(result.error))
a = result.analysis
tk = a.tempo_key
print(json.dumps({{
    "seconds": time.perf_counter() - started,
    "duration_s": a.duration_s,
    "sampled": a.sampled,
    "patches": len(a.patch_starts_s),
    "energy": a.dimensions().get("energy"),
    "bpm": tk.tempo.bpm if tk else None,
}}))
"""


def make_mix(path: Path, hours: float) -> float:
    """Concatenate the shared tracks into ``path`` until it lasts ``hours``; returns its length in s."""
    tracks = sorted(MUSIC.iterdir())
    wanted = int(hours * 3600 * RATE)
    written = 0
    with sf.SoundFile(path, "w", samplerate=RATE, channels=1, format="FLAC", subtype="PCM_16") as out:
        while written < wanted:
            for track in tracks:
                for block in iter_audio_blocks(track, sample_rate=RATE, block_seconds=30.0):
                    block = block[: wanted - written]
                    out.write(np.clip(block, -1.0, 1.0))
                    written += len(block)
                    if written >= wanted:
                        return written / RATE
    return written / RATE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument(
        "--budget", type=int, default=DEFAULT_PATCH_BUDGET, help="library mode's patches per track"
    )
    parser.add_argument("--keep", type=Path, help="make the mix here and keep it")
    args = parser.parse_args()
    if not MUSIC.exists():
        print(f"{MUSIC} is missing (../shared not here): nothing to measure")
        return 0
    folder = tempfile.mkdtemp(prefix="bench_long_mix_")
    mix = args.keep or Path(folder) / "mix.flac"
    try:
        if not mix.exists():
            started = time.perf_counter()
            seconds = make_mix(mix, args.hours)
            print(
                f"made {mix}: {seconds / 3600:.2f} h, {mix.stat().st_size / 1e6:.0f} MB, "
                f"{time.perf_counter() - started:.0f} s"
            )
        code = CHILD.format(root=str(ROOT), budget=args.budget, path=str(mix))
        env = {**os.environ, "MUSICTAGGER_CONFIG_DIR": folder, "MUSICTAGGER_LOG_DIR": folder}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            print(done.stderr[-3000:])
            return 1
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB
        found = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"library mode, budget {args.budget}: peak RSS {peak_mb:.0f} MB (target <= 1536 MB); "
            f"process wall {wall:.1f} s (analysis {found['seconds']:.1f} s); {json.dumps(found)}"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the mix too, unless --keep put it elsewhere
    return 0


if __name__ == "__main__":
    sys.exit(main())
