"""musictagger: genre and mood tags from the audio itself.

The package root is Qt-free; only ``musictagger.gui`` imports Qt.
"""

__version__ = "0.1.0"
