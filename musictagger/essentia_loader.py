"""essentia's algorithms (``essentia.standard``'s classes), loaded once, when first used, quietly.

essentia prints INFO and WARNING lines straight to stdout/stderr from C++ (e.g. "MusicExtractorSVM: no
classifier models were configured" on import), which would land in the middle of `tag --json`'s output.
It is loaded lazily because it takes a moment and only the tempo/key stage needs it.

Only the algorithms named in ``ALGORITHMS`` are given Python classes. Importing ``essentia.standard``
makes a class for each of its ~300 algorithms (1.2 s), which the tempo/key worker process paid before
its first track, on a core the taggers want; the same module built with these few takes about 0.15 s. It
is built as a private copy (``essentia._musictagger_standard``), so ``import essentia.standard`` elsewhere
still gets every algorithm; should essentia change so that the copy cannot be built, the whole module is
imported instead.
essentia is AGPL-3.0 (see README, Licence): combined with this GPL-3.0-or-later program under GPL-3 §13.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
from types import ModuleType

log = logging.getLogger("musictagger.essentia")

#: What tempo.py and tonality.py call, and what essentia.standard's own Python algorithms need at import.
ALGORITHMS = frozenset(
    {"PercivalBpmEstimator", "KeyExtractor", "FrameCutter", "CentralMoments", "Centroid", "Decrease"}
)
_PRIVATE_NAME = "essentia._musictagger_standard"

_lock = threading.Lock()
_standard: ModuleType | None = None


def essentia_standard() -> ModuleType:
    """A module with ``essentia.standard``'s classes for ``ALGORITHMS``, loaded quietly (thread-safe)."""
    global _standard
    with _lock:
        if _standard is None:
            import essentia

            essentia.log.infoActive = False
            essentia.log.warningActive = False
            try:
                _standard = _with_only(ALGORITHMS)
            except Exception as exc:  # another essentia release: its whole module, slower but the same
                log.info(
                    "essentia.standard with only the algorithms used failed (%s); importing it whole", exc
                )
                sys.modules.pop(_PRIVATE_NAME, None)
                import essentia.standard

                _standard = essentia.standard
        return _standard


def _with_only(names: frozenset[str]) -> ModuleType:
    """essentia/standard.py run as a module of its own while essentia lists only ``names``."""
    import essentia
    from essentia import _essentia

    spec = importlib.util.find_spec("essentia.standard")
    if spec is None or spec.origin is None:
        raise ImportError("essentia.standard not found")
    private = importlib.util.spec_from_file_location(_PRIVATE_NAME, spec.origin)
    module = importlib.util.module_from_spec(private)
    every = _essentia.keys
    sys.modules[_PRIVATE_NAME] = module
    _essentia.keys = lambda: [name for name in every() if name in names]
    try:
        private.loader.exec_module(module)
    finally:
        _essentia.keys = every
    missing = [name for name in names if not hasattr(module, name)]
    if missing:
        raise ImportError(f"no {', '.join(sorted(missing))} in essentia {essentia.__version__}")
    return module
