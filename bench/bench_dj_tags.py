"""Does a default ``tag --write`` give a DJ the tags they keep? Prints a table and the coverage.

    .venv/bin/python bench/bench_dj_tags.py [--shared ../shared] [--keep]

Copies ``../shared/audio/formats`` (one excerpt in every container) and ``../shared/audio/music`` (16 tracks
of many styles) to a temporary folder, runs ``musictagger tag --write`` on it with default settings (a fresh
library index and config folder, so nothing of the user's is read), then reads every file back with the
tag reader and counts the files that carry a genre, a mood and an energy in their container's own field.
Then ``undo``, and a check that every file holds its original audio and every original tag field again
(byte-identity is reported too: a container may lay out its padding differently after a rewrite).

Targets (issue "tags a DJ keeps"): a mood on >= 90 % of the files, a genre on >= 95 %. Exit 1 when missed.
Needs ``../shared``: says so and exits 0 without it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from musictagger.tags import read_tags  # noqa: E402
from musictagger.tags.audio_payload import audio_payload_digest  # noqa: E402
from musictagger.tags.containers import open_audio  # noqa: E402

MOOD_TARGET, GENRE_TARGET = 0.90, 0.95


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _state(path: Path) -> tuple[str, dict]:
    """The file's audio (its packets, not its bytes: tags may move them) and every field of its tag."""
    container, audio = open_audio(path)
    return audio_payload_digest(path), container.tag_format.snapshot(audio)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    sources = [args.shared / "audio" / "formats", args.shared / "audio" / "music"]
    if not all(folder.is_dir() for folder in sources):
        print(f"{args.shared / 'audio'} not found: nothing to measure")
        return 0
    home = Path(tempfile.mkdtemp(prefix="musictagger-djtags-"))
    music = home / "music"
    for folder in sources:
        shutil.copytree(folder, music / folder.name, ignore=shutil.ignore_patterns("*.md"))
    for path in music.rglob("*"):  # the shared copies are read-only; a user's library is not
        path.chmod(0o755 if path.is_dir() else 0o644)
    before = {p: _digest(p) for p in music.rglob("*") if p.is_file()}
    original = {p: _state(p) for p in before}
    env = dict(os.environ)
    for name in ("DATA", "CONFIG", "CACHE", "LOG"):
        env[f"MUSICTAGGER_{name}_DIR"] = str(home / name.lower())
    env["MUSICTAGGER_DB"] = str(home / "library.sqlite")
    command = [sys.executable, "-m", "musictagger", "tag", "--write", "--quiet", str(music)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO)
    print(f"$ musictagger tag --write {music}  -> exit {done.returncode}")
    print(done.stdout)
    if done.returncode not in (0, 1):
        print(done.stdout[-3000:], done.stderr[-3000:])
    # Per file, "(no confident genre: left as it is)": the files the models gave no genre of their own
    # (the summary line's "no confident genre on N" is not counted twice).
    notes = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("(no confident ")]
    no_mood_lines = sum(note.startswith("(no confident mood") for note in notes)
    no_genre_lines = sum(note.startswith("(no confident genre") for note in notes)
    # "genre: (none) → Jazz  (as in …: the same recording)": a genre the file took from its own copy
    # elsewhere in the library (WritePolicy.from_copies), not from the models.
    lines = [line.strip() for line in done.stdout.splitlines()]
    genre_copies = sum(line.startswith("genre:") and line.endswith(": the same recording)") for line in lines)
    audio_kept = sum(_state(p)[0] == original[p][0] for p in before)
    rows = []
    for path in sorted(before):
        tags = read_tags(str(path))
        rows.append(
            {
                "file": str(path.relative_to(music)),
                "genre": tags.get("genre", []),
                "mood": tags.get("mood", []),
                "energy": tags.get("energy", []),
            }
        )
    width = max(len(r["file"]) for r in rows)
    print(f"{'file':<{width}}  {'genre':<24} {'mood':<26} energy")
    for r in rows:
        print(
            f"{r['file']:<{width}}  {'; '.join(r['genre']) or '-':<24} {'; '.join(r['mood']) or '-':<26} "
            f"{'; '.join(r['energy']) or '-'}"
        )
    n = len(rows)
    with_genre = sum(bool(r["genre"]) for r in rows)
    with_mood = sum(bool(r["mood"]) for r in rows)
    with_energy = sum(bool(r["energy"]) for r in rows)
    print(
        f"\n{n} files: genre on {with_genre} ({with_genre / n:.0%}), "
        f"mood on {with_mood} ({with_mood / n:.0%}), "
        f"energy on {with_energy} ({with_energy / n:.0%}); dry-run/write output said 'no confident mood' "
        f"{no_mood_lines} times, 'no confident genre' {no_genre_lines} times: the models' own genre on "
        f"{n - no_genre_lines - genre_copies}, taken from the same recording's other file on {genre_copies}, "
        "the other genres were in the files already"
    )
    undo = subprocess.run(
        [sys.executable, "-m", "musictagger", "undo"],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    restored = sum(_state(p) == original[p] for p in before)
    identical = sum(_digest(p) == digest for p, digest in before.items())
    print(
        f"audio unchanged by the write: {audio_kept}/{n}; undo -> exit {undo.returncode}: {restored}/{n} "
        f"files hold their original tags (every field) and audio, {identical}/{n} are byte-identical"
    )
    summary = {"files": n, "genre": with_genre, "models_genre": n - no_genre_lines - genre_copies}
    summary.update(genre_from_copies=genre_copies, mood=with_mood)
    summary["energy"] = with_energy
    summary.update(audio_kept=audio_kept, restored=restored, byte_identical=identical)
    print(json.dumps(summary))
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    ok = with_mood / n >= MOOD_TARGET and with_genre / n >= GENRE_TARGET and restored == audio_kept == n
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
