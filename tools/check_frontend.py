"""Compare musictagger's front end (load_audio + LogMelSpectrogram) with the original musicnn inputs.

    .venv/bin/python tools/check_frontend.py [--shared DIR]

For every file under shared/audio/ that has a reference (shared/reference/musicnn/<name>.npz, made with
librosa.load(sr=16000) + librosa.feature.melspectrogram + log10(10000 x + 1)), decode it with
``musictagger.audio.load_audio``, compute the log-mel with ``LogMelSpectrogram``, cut 187-frame patches
(hop 187, the partial last one dropped) and print per file: our sample count against the reference's
``n_samples_16k``, and the max-abs / mean-abs difference against the reference ``patches`` (the first
<= 10 patches, which is what the reference stores).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from musictagger.audio import load_audio, probe_audio
from musictagger.spectrogram import LogMelSpectrogram

PATCH_FRAMES = 187


def patches(logmel: np.ndarray) -> np.ndarray:
    n = logmel.shape[0] // PATCH_FRAMES
    return logmel[: n * PATCH_FRAMES].reshape(n, PATCH_FRAMES, logmel.shape[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    args = ap.parse_args()
    refs = args.shared / "reference" / "musicnn"
    files = sorted(
        p for p in (args.shared / "audio").rglob("*") if p.is_file() and (refs / f"{p.name}.npz").exists()
    )
    if not files:
        print(f"no audio with a reference under {args.shared}", file=sys.stderr)
        return 1
    torch.set_num_threads(1)
    mel = LogMelSpectrogram()
    print(
        f"{'file':<48} {'decoder':<13} {'n_samples':>9} {'ref':>9} {'diff':>5} {'patches':>7}"
        f" {'max_abs':>9} {'mean_abs':>9}"
    )
    worst = 0.0
    t0 = time.perf_counter()
    for path in files:
        ref = np.load(refs / f"{path.name}.npz")
        info = probe_audio(path)
        y = load_audio(path)
        with torch.no_grad():
            ours = patches(mel(torch.from_numpy(y)).numpy())
        theirs = ref["patches"]
        k = min(len(ours), len(theirs))
        d = np.abs(ours[:k] - theirs[:k])
        n_ref = int(ref["n_samples_16k"])
        rel = path.relative_to(args.shared / "audio")
        print(
            f"{rel!s:<48} {info.container + '/' + info.codec:<13} {len(y):>9} {n_ref:>9} {len(y) - n_ref:>+5}"
            f" {k:>3}/{len(theirs):<3} {d.max():>9.2e} {d.mean():>9.2e}"
        )
        worst = max(worst, float(d.max()))
    print(f"{len(files)} files in {time.perf_counter() - t0:.1f} s; worst max-abs {worst:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
