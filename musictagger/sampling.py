"""Library mode: which patches of a track to analyse when not every one is.

A library of 10,000 tracks is mostly long tracks whose genre and mood do not change every 3 s; the mean
over a fixed budget of patches spread over the track gives the same written labels as the mean over all
of them (bench/bench_library_mode.py measures how often), for a fraction of the decoding and inference.

The patches are the full analysis' own patches (same grid, same samples), only fewer: patch ``k`` of a
sampled analysis is exactly patch ``k`` of the full one, so each taggram row it keeps is a row the full
taggram has. The choice is deterministic (no random draw): the same file always gives the same labels.
"""

from __future__ import annotations

import numpy as np

#: Patches per track in library mode, chosen by measurement (bench/bench_library_mode.py, README): 12 patches
#: of 3 s (36 s of audio) kept the written labels of 16 full-length tracks and 40 GTZAN clips.
DEFAULT_PATCH_BUDGET = 12


def spread_patches(n_patches: int, budget: int) -> np.ndarray | None:
    """The indices (ascending, distinct) of ``budget`` patches out of ``n_patches``, one at the centre of
    each of ``budget`` equal stretches of the track, so the intro, the body and the outro are all heard
    in proportion. None when the track has no more patches than the budget: it is analysed in full."""
    if budget < 1:
        raise ValueError(f"a patch budget must be at least 1, not {budget}")
    if n_patches <= budget:
        return None
    return ((np.arange(budget) + 0.5) * n_patches / budget).astype(np.int64)
