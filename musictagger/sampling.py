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

#: A sampled analysis too close to call gets a closer look: the patches at the start of each of its
#: stretches (``closer_look_patches``), between those at their centres, so the two passes together are
#: twice the budget evenly spread. Too close to call (services.analysis.near_a_threshold): a genre or mood
#: score within REFINE_MARGIN of its calibrated threshold and within REFINE_Z times that distance's sampling
#: error (its jackknife over the sampled patches). Measured (bench_library_sampling.py, the 16 tracks of
#: ../shared/audio/music; written labels / top-3 raw tags of both taggers equal to the full analysis'):
#: spread 16 alone 15/16 and 10/16 on 23 % of the patches; this closer look 16/16 and 12/16 on 34 % (6
#: tracks looked at again); without the error test 16/16 and 13/16 on 36 %; the closer look before
#: 2026-12-06 (3x the budget, margin alone) 16/16 and 13/16 on 46 %. Looking closer also at a tagger whose
#: third and fourth tags lie within 0.02 (``tie_margin``: raw tags are hints, never written) gives 14/16
#: top-3 on 39 %, measured at 2.84-3.25x the original's tracks/s against 3.59-3.77x without: not the
#: default.
REFINE_MARGIN = 0.05
REFINE_Z = 1.5
REFINE_TIE_MARGIN: float | None = None


def spread_patches(n_patches: int, budget: int) -> np.ndarray | None:
    """The indices (ascending, distinct) of ``budget`` patches out of ``n_patches``, one at the centre of
    each of ``budget`` equal stretches of the track, so the intro, the body and the outro are all heard
    in proportion. None when the track has no more patches than the budget: it is analysed in full."""
    if budget < 1:
        raise ValueError(f"a patch budget must be at least 1, not {budget}")
    if n_patches <= budget:
        return None
    return ((np.arange(budget) + 0.5) * n_patches / budget).astype(np.int64)


def closer_look_patches(n_patches: int, budget: int) -> np.ndarray | None:
    """The closer look's patches: the first patch of each of the ``budget`` equal stretches whose centres
    ``spread_patches`` took (distinct from those when the track has at least twice the budget); None
    when the track has no more patches than the budget."""
    if budget < 1:
        raise ValueError(f"a patch budget must be at least 1, not {budget}")
    if n_patches <= budget:
        return None
    return (np.arange(budget) * n_patches / budget).astype(np.int64)
