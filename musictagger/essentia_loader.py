"""essentia's algorithms (``essentia.standard``), imported once, on first use, with its console log off.

essentia prints INFO and WARNING lines straight to stdout/stderr from C++ (e.g. "MusicExtractorSVM: no
classifier models were configured" on import), which would land in the middle of `tag --json`'s output.
It is imported lazily because it takes a moment and only the tempo/key stage needs it.
essentia is AGPL-3.0 (see README, Licence): combined with this GPL-3.0-or-later program under GPL-3 §13.
"""

from __future__ import annotations

import threading
from types import ModuleType

_lock = threading.Lock()
_standard: ModuleType | None = None


def essentia_standard() -> ModuleType:
    """The ``essentia.standard`` module, imported quietly (thread-safe)."""
    global _standard
    with _lock:
        if _standard is None:
            import essentia

            essentia.log.infoActive = False
            essentia.log.warningActive = False
            import essentia.standard

            _standard = essentia.standard
        return _standard
