"""Cut a displayed spectrogram (frames × mel) into model patches and stitch per-patch maps back.

Patches are consecutive ``patch_frames`` slices from frame 0, as the analyzer cuts them, so a patch's map
lines up with the frames on screen. The analyzer drops a last partial patch; an explanation must cover every
displayed frame, so a last patch is added ending at the last frame (overlapping the one before) and only
its new frames are used. A track shorter than one patch is padded with silence (log-mel 0), as analysed.
"""

from __future__ import annotations

import numpy as np


def cut_patches(spectrogram: np.ndarray, patch_frames: int) -> tuple[np.ndarray, list[int]]:
    """(n_patches, patch_frames, n_mels) float32 and each patch's first frame."""
    frames, n_mels = spectrogram.shape
    if frames < patch_frames:
        padded = np.zeros((patch_frames, n_mels), dtype=np.float32)
        padded[:frames] = spectrogram
        return padded[None], [0]
    starts = list(range(0, frames - patch_frames + 1, patch_frames))
    if starts[-1] + patch_frames < frames:
        starts.append(frames - patch_frames)
    stacked = np.stack([spectrogram[s : s + patch_frames] for s in starts]).astype(np.float32, copy=False)
    return stacked, starts


def stitch_maps(maps: np.ndarray, starts: list[int], frames: int) -> np.ndarray:
    """(n_patches, patch_frames, n_mels) → (frames, n_mels); a later patch fills only frames still empty."""
    out = np.zeros((frames, maps.shape[2]), dtype=np.float32)
    filled = 0
    for patch_map, start in zip(maps, starts, strict=True):
        stop = min(start + maps.shape[1], frames)
        if stop > filled:
            out[filled:stop] = patch_map[filled - start : stop - start]
            filled = stop
    return out
