"""Helpers shared by the tests: an independent audio hash, and the real main window opened and closed."""

import hashlib
import os
from datetime import datetime
from pathlib import Path

import av
import numpy as np
import soundfile as sf


def audio_digest(path: Path) -> str:
    """Hash of the decoded samples (soundfile where it can, else FFmpeg through PyAV).

    Independent of the code under test (which hashes audio packets), so a write that changed the audio
    in any way a player would hear is caught by a second, different check.
    """
    try:
        data, _ = sf.read(str(path), dtype="int32", always_2d=True)
    except sf.LibsndfileError:
        with av.open(str(path)) as container:
            data = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    return hashlib.sha256(data.tobytes() + str(data.dtype).encode() + str(data.shape).encode()).hexdigest()


def deny_opening(monkeypatch, path: Path) -> None:
    """The audio module's ``open`` of ``path`` fails as the OS fails it for a user without read permission
    (others open as usual): root, as CI runs, reads a chmod-000 file whatever its mode."""
    from musictagger import audio

    def open_as_a_user(file, *args, **kwargs):
        if os.fspath(file) == os.fspath(path):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return open(file, *args, **kwargs)

    monkeypatch.setattr(audio, "open", open_as_a_user, raising=False)


def open_window(qtbot, tmp_path: Path):
    """The real main window, offscreen, on the CPU, without playback, with settings in ``tmp_path``."""
    from PySide6.QtCore import QSettings

    from musictagger.gui.app import create_application
    from musictagger.gui.main_window import MainWindow

    create_application([])
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    # Playback off: the offscreen test machine has no sound server, and playback has its own test.
    win = MainWindow(settings, device="cpu", playback=False)
    qtbot.addWidget(win)
    win.show()
    return win


def close_window(win) -> None:
    """Stop every background worker of the window and close its library, so no thread outlives a test."""
    win.track_view.explainer.shutdown()
    win.worker.shutdown()
    if win.library_worker is not None:
        win.library_worker.shutdown()
    win.runner.shutdown()  # e.g. the track view's analysis being stored in the index
    if win.library is not None:
        win.library.close()


def wait_for_table(qtbot, model, timeout_ms: int = 60_000) -> None:
    """Until the library table has what it asked for: its queries run in the background."""
    qtbot.waitUntil(lambda: not model.loading(), timeout=timeout_ms)


def track_row(file: Path, **columns):
    """A Track row for an existing file, as the scanner would make it (``columns`` override or add)."""
    from musictagger.library import Track

    st = file.stat()
    values = dict(
        path_key=os.fsencode(file),
        path=str(file),
        folder=str(file.parent),
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        file_tags={},
        scanned_at=datetime.now(),
    )
    values.update(columns)
    return Track(**values)


def with_analysis(track, model: str = "MSD_musicnn"):
    """``track`` with one (empty) stored analysis by ``model``: the index says it was analysed."""
    from musictagger.library.schema import Analysis

    track.analyses.append(
        Analysis(
            model=model,
            model_version="1",
            fingerprint=None,
            scores={},
            patch_seconds=3.0,
            taggram=b"",
            n_patches=0,
            embedding=b"",
            created_at=datetime.now(),
        )
    )
    return track


# Labels of the synthetic tracks below: the first 1-4 genres (House and Techno as styles), one mood.
SYNTHETIC_GENRES = ("House", "Techno", "Jazz", "Rock")
SYNTHETIC_MOODS = ("Chill", "Party", "Dark")


def synthetic_track(n: int, now: datetime, **columns):
    """Track number ``n`` of a synthetic library with no files: /music/<n % 7>/<n>.mp3, every tenth from
    the fourth missing; genres ranked with scores 0.75, 0.6, 0.45, 0.3 (confident above 0.5) and a mood
    confident on even ``n`` (``columns`` override or add)."""
    from musictagger.library import Track, TrackLabel

    path = f"/music/{n % 7}/{n:03d}.mp3"
    values = dict(
        path_key=os.fsencode(path),
        path=path,
        folder=os.path.dirname(path),
        size=n,
        mtime_ns=n,
        file_tags={},
        scanned_at=now,
        missing_since=now if n % 10 == 3 else None,
    )
    values.update(columns)
    track = Track(**values)
    for rank, genre in enumerate(SYNTHETIC_GENRES[: 1 + n % len(SYNTHETIC_GENRES)], start=1):
        category = "style" if genre in ("House", "Techno") else "genre"
        score = 0.9 - 0.15 * rank
        track.labels.append(
            TrackLabel(category=category, label=genre, score=score, rank=rank, confident=score > 0.5)
        )
    mood = SYNTHETIC_MOODS[n % len(SYNTHETIC_MOODS)]
    track.labels.append(TrackLabel(category="mood", label=mood, score=0.7, rank=1, confident=n % 2 == 0))
    return track


def insert_named_tracks(connection, rows) -> None:
    """Bulk-insert tracks (path, title, artist) under /music with no ORM event: what the database's own
    triggers keep (the folded search text, its trigram index) is all that happens to them."""
    from sqlalchemy import insert

    from musictagger.library import Track
    from musictagger.library.scanner import utc_now

    connection.execute(
        insert(Track),
        [
            {
                "path_key": path.encode(),
                "path": path,
                "folder": "/music",
                "size": 1,
                "mtime_ns": 1,
                "file_tags": {},
                "title": title,
                "artist": artist,
                "scanned_at": utc_now(),
            }
            for path, title, artist in rows
        ],
    )
