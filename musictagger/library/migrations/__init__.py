"""The library index's schema migrations (Alembic scripts), run by ``musictagger.library.db``.

Not imported by the application: Alembic reads ``env.py`` and ``versions/*.py`` from this folder, which
ships as package data (pyproject.toml) and as data in the PyInstaller bundle (packaging/musictagger.spec).
See README.md here for how to add a revision.
"""
