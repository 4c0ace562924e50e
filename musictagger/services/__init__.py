"""Application services: what the command line and the app both do, in one place and Qt-free.

Each front end is a skin over these functions: the CLI calls them directly, the app from its background
runner. Inputs and outputs are plain data (Settings, dataclasses, track ids, paths); a long operation takes
``on_progress``-style callbacks (called on the calling thread) and a ``should_stop()`` callable polled
between items, so a GUI worker can drive it and cancel it.

- ``analysis``: the models a Settings asks for, loaded once (``Models.load``); scan + analyse a library.
- ``suggest``: what the models suggest for tracks, and what the user's reviews make of it.
- ``writes``: plan a write (reviews always honoured), write, undo, list batches.
- ``folders``: the library's folders (add, remove with their tracks' index rows, list).
- ``search``: tracks by genre, mood and text (the one search rule of library/queries.py).
- ``export``: M3U8 playlists of such tracks; Rekordbox XML of them, or of given track ids.
"""
