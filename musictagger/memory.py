"""Keep freed tensor memory in the process instead of handing it back to the kernel (glibc's malloc).

Why: with glibc's defaults, every large block (each batch's activations, tens of MB) is allocated with
``mmap`` and returned with ``munmap`` when freed, so the next batch faults the same amount back in page by
page. Measured on two tracks (``/tmp`` script: Analyzer + analyse_files, CPU): 12.2 million minor page
faults and 29 s of kernel time for 47 s of user time; with the settings below 0.18 million faults and
0.5 s of kernel time, identical outputs, 15–25 % less wall time on a loaded 2-core machine (bench/
bench_allocator.py measures it). The cost is a higher resident size: freed memory stays for the next batch
(peak RSS 0.95 → 1.15 GB in that run).

``tune_allocator()`` runs once per process, from the Analyzer (so the CLI, the app, benchmarks and worker
processes that analyse all get it). Elsewhere than Linux/glibc it does nothing; ``MUSICTAGGER_MALLOC=
default`` leaves glibc's defaults (for comparison, or a machine short of memory).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

log = logging.getLogger("musictagger.memory")

# mallopt(3) parameters.
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

#: Blocks below this come from the heap and are reused after free (no mmap/munmap per batch).
MMAP_THRESHOLD = 1 << 30
#: Free memory at the top of the heap is given back only past this much...
TRIM_THRESHOLD = 512 << 20
#: ...and each heap growth asks for this much extra, so growing is rare.
TOP_PAD = 64 << 20
#: One heap for every thread. glibc gives each new thread an arena of its own, whose heaps are at most
#: 64 MB: a larger block there is mmap'd and munmap'd each time whatever the threshold above, which is what
#: library mode's two analysing threads do with every batch. Measured on the 16 tracks of
#: ../shared/audio/music: 2.7 M page faults and 5.2 s of kernel time with per-thread arenas, 0.85 M and
#: 1.9 s with one (20.0 -> 18.2 s wall).
ARENA_MAX = 1

_tuned: bool | None = None


def tune_allocator() -> bool:
    """Apply the settings above to this process's malloc (once); True when they are in effect."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if not sys.platform.startswith("linux") or os.environ.get("MUSICTAGGER_MALLOC") == "default":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc without mallopt: keep its defaults
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    settings = (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (M_TOP_PAD, TOP_PAD),
        (M_ARENA_MAX, ARENA_MAX),
    )
    _tuned = all(mallopt(parameter, value) == 1 for parameter, value in settings)
    if not _tuned:
        log.info("malloc tuning refused by this libc; its defaults stay")
    return _tuned
