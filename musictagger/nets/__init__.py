"""Neural network architectures (PyTorch). Weights live in ``models/<name>/``: see ``musictagger.catalog``."""

from musictagger.nets.musicnn import Musicnn, MusicnnOutput

__all__ = ["Musicnn", "MusicnnOutput"]
