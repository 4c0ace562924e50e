"""malloc tuning (musictagger/memory.py): freed large blocks are reused, not faulted in again."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Allocate, touch and free a 40 MB block 20 times with malloc itself (numpy would ask for huge pages,
# which hides the faults); print the minor page faults that took. 40 MB is above the largest size glibc's
# own adaptive threshold would keep on the heap (32 MB), so with its defaults every round maps anew.
PROBE = """
import ctypes, resource, sys
sys.path.insert(0, {root!r})
from musictagger.memory import tune_allocator
tuned = tune_allocator()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = (ctypes.c_void_p,)
size = 40 * 1024 * 1024
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
print(tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _probe(mode: str) -> tuple[bool, int]:
    env = dict(os.environ, MUSICTAGGER_MALLOC=mode)
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(root=str(ROOT))],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_tuned_malloc_reuses_freed_blocks_instead_of_faulting_them_in():
    tuned, tuned_faults = _probe("tuned")
    plain, plain_faults = _probe("default")
    assert tuned and not plain
    pages = 40 * 1024 * 1024 // os.sysconf("SC_PAGE_SIZE")
    # glibc's defaults map and unmap each block: every round faults all its pages in again.
    assert plain_faults > 10 * pages
    # Tuned: the first round faults the block in, the next ones reuse it.
    assert tuned_faults < 3 * pages


def test_tuning_is_applied_once_and_reports_its_state():
    from musictagger.memory import tune_allocator

    first = tune_allocator()
    assert tune_allocator() is first
