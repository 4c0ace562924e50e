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

#: Patches per track in library mode, chosen by measurement (bench/bench_library_sampling.py and
#: bench_library_mode.py on the 16 full-length tracks of ../shared/audio/music; README, *Library mode*).
DEFAULT_PATCH_BUDGET = 16

#: A sampled analysis too close to call (a genre or mood score within REFINE_MARGIN of its calibrated
#: threshold: services.analysis) is done again on REFINE_FACTOR times the patches. The factor is odd so
#: that the closer look includes the first patches: the centre of stretch k of B is the centre of stretch
#: 3k + 1 of 3B. Measured (bench_library_sampling.py, 16 tracks): spread 16 alone kept the written labels
#: of 15/16 tracks on 23 % of the patches; with the closer look at margin 0.05, 16/16 on 43 %.
REFINE_FACTOR = 3
REFINE_MARGIN = 0.05


def spread_patches(n_patches: int, budget: int) -> np.ndarray | None:
    """The indices (ascending, distinct) of ``budget`` patches out of ``n_patches``, one at the centre of
    each of ``budget`` equal stretches of the track, so the intro, the body and the outro are all heard
    in proportion. None when the track has no more patches than the budget: it is analysed in full."""
    if budget < 1:
        raise ValueError(f"a patch budget must be at least 1, not {budget}")
    if n_patches <= budget:
        return None
    return ((np.arange(budget) + 0.5) * n_patches / budget).astype(np.int64)
