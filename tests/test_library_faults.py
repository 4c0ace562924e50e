"""The crash test: a batch write killed with SIGKILL at random moments harms no file and no journal.

A helper process (fault_write_batch.py) applies one batch over a copy of every format fixture (every
container, in two folders) with a real SQLite index, and is killed with SIGKILL after a random, seeded
delay, many times. After every kill:

- every file decodes to exactly the same audio as before (decoded samples, and the audio payload digest);
- every file holds exactly its old or exactly its new tags, never a mix: its bytes are either the original
  bytes or those an uninterrupted run produced, and read_tags gives one of the two tag states;
- recover_journal leaves no temporary copy, and the index agrees with the files: each entry's status is
  what its file holds, no file holds new tags without a ``written`` entry, the written tracks' rows
  match the files, SQLite's integrity_check is ok;
- undo of the interrupted batch gives every file its original tags back.

The kill lands after the helper says it is about to write (imports and planning done), at a uniform
random point of the time an uninterrupted batch takes, so most kills fall inside a file's write.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import audio_digest, track_row
from sqlalchemy import select, text

from musictagger.library import Track, TrackLabel, WriteEntry, open_library
from musictagger.library.policy import WritePolicy
from musictagger.library.writing import INTERRUPTED, UndoError, recover_journal, undo_batch
from musictagger.paths import resources_dir
from musictagger.tags import find_stale_temp_files, read_tags
from musictagger.tags.audio_payload import audio_payload_digest
from musictagger.taxonomy import VOCABULARY_FILE

TESTS = Path(__file__).parent
REPO = TESTS.parent
HELPER = TESTS / "fault_write_batch.py"
FORMATS = TESTS / "data" / "formats"
FIXTURES = sorted(p.name for p in FORMATS.iterdir() if p.suffix != ".md")
FOLDERS = ("a", "b")  # stale temporary copies must be found in every folder the batch touched
RUNS = 25
SEED = 20250611
POLICY = WritePolicy(genre="merge", mood="replace", comment_block=True)
GENRES = ("Electronic", "House", "Techno", "Ambient")
MOODS = ("Chill", "Happy", "Party")


@dataclass(frozen=True)
class FileState:
    content: bytes
    tags: dict


def build_template(root: Path) -> list[Path]:
    """The music files, spread over two folders, and an index with a Track and labels for each."""
    paths = []
    for i, name in enumerate(FIXTURES):
        folder = root / "music" / FOLDERS[i % len(FOLDERS)]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FORMATS / name, folder / name)
        paths.append(folder / name)
    with open_library(root / "index.sqlite") as library, library.session() as session:
        for i, path in enumerate(paths):
            track = track_row(path, file_tags=read_tags(path))
            session.add(track)
            session.flush()
            labels = [
                ("genre", GENRES[i % len(GENRES)], 0.8),
                ("genre", "Jazz", 0.5),
                ("mood", MOODS[i % len(MOODS)], 0.6),
                ("mood", "Mellow", 0.3),
            ]
            for rank, (category, label, score) in enumerate(labels):
                session.add(
                    TrackLabel(track_id=track.id, category=category, label=label, score=score, rank=rank % 2)
                )
        session.commit()
    return [path.relative_to(root) for path in paths]


def start_helper(run_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [
        sys.executable,
        str(HELPER),
        str(run_dir / "index.sqlite"),
        str(resources_dir() / VOCABULARY_FILE),
        json.dumps(POLICY.to_json()),
    ]
    proc = subprocess.Popen(
        args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline()
    if line != "ready\n":
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"the helper did not start: {line!r}\n{err}")
    return proc


def file_states(run_dir: Path, files: list[Path]) -> dict[Path, FileState]:
    return {f: FileState((run_dir / f).read_bytes(), read_tags(run_dir / f)) for f in files}


def planned_at_kill(run_dir: Path) -> list[str]:
    """Paths of the entries the killed process left ``planned``, read before any recovery."""
    with sqlite3.connect(run_dir / "index.sqlite") as db:
        return [row[0] for row in db.execute("SELECT path FROM write_entries WHERE status = 'planned'")]


def test_sigkill_during_a_batch_write(tmp_path):
    started = time.monotonic()
    # The index holds absolute paths: every run restores the same folder from a pristine copy.
    run_dir, template = tmp_path / "library", tmp_path / "template"
    files = build_template(run_dir)
    shutil.copytree(run_dir, template)
    old = file_states(run_dir, files)
    audio = {f: audio_digest(run_dir / f) for f in files}
    payload = {f: audio_payload_digest(run_dir / f) for f in files}

    # One uninterrupted run: the new state of every file, and how long a batch takes.
    helper = start_helper(run_dir)
    t0 = time.monotonic()
    done = helper.stdout.readline()
    batch_seconds = time.monotonic() - t0
    _, err = helper.communicate(timeout=60)
    assert helper.returncode == 0 and done == f"done {len(files)}\n", err
    new = file_states(run_dir, files)
    for f in files:
        assert new[f].tags != old[f].tags, f
        # Nothing but the fields the policy owns changed.
        for name in ("title", "artist", "album", "bpm", "key"):
            assert new[f].tags.get(name) == old[f].tags.get(name), (f, name)

    rng = random.Random(SEED)
    outcomes: dict[str, int] = {}
    for run in range(RUNS):
        shutil.rmtree(run_dir)
        shutil.copytree(template, run_dir)
        helper = start_helper(run_dir)
        t0 = time.monotonic()
        time.sleep(rng.uniform(0, batch_seconds))
        finished = helper.poll() is not None
        helper.kill()  # SIGKILL
        helper.communicate()
        if finished:  # the machine was faster than in calibration: aim shorter from now on
            batch_seconds = min(batch_seconds, time.monotonic() - t0)

        # The files, before anything repairs anything.
        temps_left = sum(len(find_stale_temp_files(run_dir / "music" / d)) for d in FOLDERS)
        planned = planned_at_kill(run_dir)
        holds: dict[Path, str] = {}
        for f in files:
            path = run_dir / f
            content = path.read_bytes()
            assert content in (old[f].content, new[f].content), f"run {run}: {f} is neither old nor new"
            tags = read_tags(path)
            assert tags in (old[f].tags, new[f].tags), f"run {run}: {f} has mixed tags {tags}"
            holds[f] = "new" if tags == new[f].tags else "old"
            assert audio_payload_digest(path) == payload[f], f"run {run}: {f} audio payload changed"
            assert audio_digest(path) == audio[f], f"run {run}: {f} decodes differently"

        with open_library(run_dir / "index.sqlite") as library:
            recovered = recover_journal(library)
            assert len(recovered) == len(planned) and all(r.status != "planned" for r in recovered)
            for d in FOLDERS:
                assert find_stale_temp_files(run_dir / "music" / d) == [], f"run {run}: temp file left"
            with library.session() as session:
                assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
                journal = {Path(e.path).relative_to(run_dir): e for e in session.scalars(select(WriteEntry))}
                for f in files:
                    entry = journal.get(f)
                    if holds[f] == "new":
                        # Never a written file the journal does not know about: undo depends on it.
                        assert entry is not None and entry.status == "written", f"run {run}: {f}"
                        track = session.scalars(select(Track).where(Track.path == str(run_dir / f))).one()
                        st = (run_dir / f).stat()
                        assert (track.size, track.mtime_ns) == (st.st_size, st.st_mtime_ns), f
                        assert track.file_tags == new[f].tags, f
                    elif entry is not None:
                        assert (entry.status, entry.error) == ("failed", INTERRUPTED), f"run {run}: {f}"
            written = sum(1 for f in files if holds[f] == "new")

            if written:
                report = undo_batch(library)
                assert (report.written, report.failed) == (written, []), f"run {run}"
            else:
                with pytest.raises(UndoError):
                    undo_batch(library)
        for f in files:
            assert read_tags(run_dir / f) == old[f].tags, f"run {run}: {f} not restored by undo"
            assert audio_payload_digest(run_dir / f) == payload[f], f"run {run}: {f}"
        for d in FOLDERS:
            assert find_stale_temp_files(run_dir / "music" / d) == []

        if planned:
            replaced = any(holds[f] == "new" for f in files if str(run_dir / f) in planned)
            kind = f"mid-write, file {'already' if replaced else 'not yet'} replaced"
            kind += " (temp copy left)" if temps_left else ""
        elif written == len(files):
            kind = "after the batch"
        else:
            kind = "between two files" if written else "before the first write"
        outcomes[kind] = outcomes.get(kind, 0) + 1

    mid_write = sum(n for kind, n in outcomes.items() if kind.startswith("mid-write"))
    summary = f"{RUNS} kills in {time.monotonic() - started:.1f} s, {mid_write} mid-write: {outcomes}"
    print(summary)
    assert mid_write >= RUNS // 5, summary
