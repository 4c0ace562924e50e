"""Reliability at depth: `tag --write` killed with SIGKILL hundreds of times, and nothing is ever harmed.

    nice -n 19 .venv/bin/python bench/bench_sigkill.py [--kills 500] [--seed S] [--out DIR]

Copies the 11 files of ``../shared/audio/formats`` (every container) into a work folder, scans and
analyses them once (``main.py scan``), then runs ``main.py tag DIR --write --db DB --quiet`` as a real
subprocess over and over, each round with the next write policy of a cycle chosen so that every round
changes every file's genre and mood, and the comment block in three rounds of four:

    replace, 2 genres / 2 moods, comment block   ->  [Jazz; Electronic] [Slow; Chill]   block 2/2
    merge,   3 / 3, no comment block             ->  [Jazz; Electronic; Techno] [...]   comment kept
    replace, 1 / 1, comment block                ->  [Jazz] [Slow]                       block 1/1
    merge,   3 / 3, comment block                ->  [Jazz; Electronic; Techno] [...]   block 3/3

The first rounds run to the end: they measure how long a run takes in all (start-up, rescan, planning) and
how long its writing phase takes (from the dry-run diff it prints to its exit). Then each round is killed
with SIGKILL after a seeded random delay: most kills (1 - ``--anywhere``) uniformly within the writing
phase, the others uniformly over the whole run (start-up, the rescan's index commits, planning). A round
that ends before its kill lands is checked the same way and counted as finished, not as a kill.

After every round, before anything repairs anything:

- every file's audio payload (FFmpeg packets, tags/audio_payload.py) equals the original's, and every
  distinct content a file has had decodes to the original's samples (soundfile, else PyAV);
- the fields the round's plan touches hold all their previous or all their new values, never a mix
  (the expected new values come from ``services.writes.plan_write``, the service ``tag --write`` plans
  with, run here on the same index before the round; energy, BPM and key are filled once, then kept);
- no other field changed: the other fields read_tags knows, and the whole rest of the tag snapshot
  (cover art, foreign frames, FLAC blocks) equal the original's;
- at most one temporary copy exists (the write in flight), and every temporary copy left by a kill is gone
  once a later run has got past its recovery (it created its batch) or ran to the end;
- the index passes ``PRAGMA integrity_check``; the journal has a planned or written entry for every file
  holding new values and no written entry for a file holding old ones; once a later run got past its
  recovery, no entry is left planned;
- the tool did not crash: no traceback on stderr, and a round that finished exited 0.

Every ``--undo-every`` kills, and at the end, every batch is undone (newest first; in-process
``undo_batch`` periodically, the ``undo`` command at the end) and every file must hold its original tags
again: read_tags and the full tag snapshot equal the original's, audio unchanged, no temporary copy left.

Prints a summary (and writes ``summary.json`` and ``rounds.jsonl`` into ``--out``); exits 1 if anything
was damaged, torn or crashed. Evidence of a failure (the file, the index) is copied to ``--out/evidence``
and the work folder is reset from its pristine copy so the run goes on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FORMATS = SHARED / "audio" / "formats"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the tests' independent decoded-audio hash

from helpers import audio_digest  # noqa: E402
from sqlalchemy import select  # noqa: E402

from musictagger.library import Track, open_library  # noqa: E402
from musictagger.library.policy import WritePolicy  # noqa: E402
from musictagger.library.writing import UndoError, undo_batch  # noqa: E402
from musictagger.services import writes  # noqa: E402
from musictagger.tags import FIELDS, TagFamily, TagReadError, find_stale_temp_files, read_tags  # noqa: E402
from musictagger.tags.audio_payload import audio_payload_digest  # noqa: E402
from musictagger.tags.containers import open_audio  # noqa: E402
from musictagger.taxonomy import load_vocabulary  # noqa: E402

OWNED = ("genre", "mood", "comment", "energy", "bpm", "key")  # the fields a tag --write may touch
OWNED_KEYS = frozenset(
    style.key for name in OWNED for family in TagFamily for style in FIELDS[name].styles[family]
)
MIN_SCORE = 0.05  # low enough that every file gets 3 genres and 3 moods from the shipped models


@dataclass(frozen=True)
class Step:
    name: str
    args: tuple[str, ...]
    policy: WritePolicy


def _step(mode: str, cap: int, block: bool) -> Step:
    args = ("--policy", mode, "--max-genres", str(cap), "--max-moods", str(cap))
    args += ("--min-score", str(MIN_SCORE), "--comment-block" if block else "--no-comment-block")
    policy = WritePolicy(
        genre=mode, mood=mode, max_genres=cap, max_moods=cap, min_score=MIN_SCORE, comment_block=block
    )
    return Step(f"{mode} {cap}/{cap}{' +block' if block else ''}", args, policy)


CYCLE = (
    _step("replace", 2, True),
    _step("merge", 3, False),
    _step("replace", 1, True),
    _step("merge", 3, True),
)
DIFF_SUMMARY = re.compile(r"^(\d+ files? to change|nothing to change)")


@dataclass
class Original:
    payload: str
    decoded: str
    tags: dict
    snapshot: dict  # the snapshot minus OWNED_KEYS
    full_snapshot: dict


@dataclass
class Totals:
    rounds: int = 0
    kills: int = 0
    kills_in_writing: int = 0
    finished: int = 0  # rounds that ended before their kill
    files_checked: int = 0
    damaged: int = 0
    torn: int = 0
    other_field_changes: int = 0
    crashes: int = 0
    temp_violations: int = 0
    journal_violations: int = 0
    integrity_failures: int = 0
    undo_passes: int = 0
    batches_undone: int = 0
    undo_restorations: int = 0  # files verified back to their original tags after an undo pass
    undo_failures: int = 0
    resets: int = 0
    outcomes: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------ checks


def snapshot_of(path: Path) -> tuple[dict, bool]:
    container, audio = open_audio(path)
    return container.tag_format.snapshot(audio), audio.tags is not None


def not_owned(snapshot: dict) -> dict:
    return {key: value for key, value in snapshot.items() if key not in OWNED_KEYS and key != "@vendor"}


def integrity_ok(db: Path) -> str:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.Error as exc:
        return f"cannot open: {exc}"


def journal(db: Path, min_batch: int) -> tuple[int, dict[str, str], int]:
    """(latest batch id, {path: status} of the entries of batches after min_batch, planned entries of
    earlier batches)."""
    with sqlite3.connect(db) as conn:
        latest = conn.execute("SELECT coalesce(max(id), 0) FROM write_batches").fetchone()[0]
        entries = dict(
            conn.execute(
                "SELECT path, status FROM write_entries WHERE batch_id > ? ORDER BY id", (min_batch,)
            )
        )
        stale = conn.execute(
            "SELECT count(*) FROM write_entries WHERE batch_id <= ? AND status = 'planned'", (min_batch,)
        ).fetchone()[0]
    return latest, entries, stale


# ------------------------------------------------------------------------------------------------ the run


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="musictagger-sigkill-"))
        self.work = self.out / "work"
        self.music = self.work / "music"
        self.db = self.work / "index.sqlite"
        self.template = self.out / "template"
        self.evidence = self.out / "evidence"
        env_root = self.out / "env"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "MUSICTAGGER_CONFIG_DIR": str(env_root / "config"),
            "MUSICTAGGER_DATA_DIR": str(env_root / "data"),
            "MUSICTAGGER_CACHE_DIR": str(env_root / "cache"),
        }
        os.environ.update({k: self.env[k] for k in self.env if k.startswith("MUSICTAGGER_")})
        self.rng = random.Random(args.seed)
        self.totals = Totals()
        self.vocabulary = None
        self.files: list[Path] = []
        self.original: dict[Path, Original] = {}
        self.state: dict[Path, dict] = {}  # each file's tags as last checked
        self.verified_contents: dict[
            Path, set[str]
        ] = {}  # sha256 of contents whose decoded audio was checked
        self.pending_temps: set[str] = set()
        self.latest_batch = 0
        self.step = 0
        self.log = None

    # -- set-up

    def prepare(self) -> None:
        if self.out.exists() and any(self.out.iterdir()):
            for name in ("work", "template", "evidence", "env"):
                shutil.rmtree(self.out / name, ignore_errors=True)
        self.music.mkdir(parents=True)
        for source in sorted(FORMATS.iterdir()):
            if source.is_file() and not source.name.startswith("."):
                shutil.copyfile(source, self.music / source.name)
                (self.music / source.name).chmod(0o644)
        self.files = sorted(self.music.iterdir())
        started = time.monotonic()
        cmd = [sys.executable, "main.py", "scan", str(self.music), "--db", str(self.db), "--quiet"]
        proc = subprocess.run(
            [*cmd, "--device", "cpu"], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise SystemExit(f"the initial scan failed ({proc.returncode}):\n{proc.stderr}")
        print(
            f"scanned and analysed {len(self.files)} files once in {time.monotonic() - started:.1f} s",
            flush=True,
        )
        shutil.copytree(self.work, self.template)
        self.vocabulary = load_vocabulary()
        for path in self.files:
            full, _ = snapshot_of(path)
            self.original[path] = Original(
                payload=audio_payload_digest(path),
                decoded=audio_digest(path),
                tags=read_tags(path),
                snapshot=not_owned(full),
                full_snapshot=full,
            )
        self.reset_state()
        self.log = (self.out / "rounds.jsonl").open("w")

    def reset_state(self) -> None:
        self.state = {path: dict(self.original[path].tags) for path in self.files}
        self.verified_contents = {path: {self.sha(path)} for path in self.files}
        self.pending_temps = set()
        self.latest_batch, _, _ = journal(self.db, 0)

    def reset_from_template(self, why: str) -> None:
        self.totals.resets += 1
        self.problem(f"reset of the work folder after: {why}")
        shutil.rmtree(self.work)
        shutil.copytree(self.template, self.work)
        self.reset_state()

    @staticmethod
    def sha(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    def problem(self, text: str) -> None:
        self.totals.problems.append(text)
        print(f"  !! {text}", flush=True)

    def keep_evidence(self, label: str, paths: list[Path]) -> None:
        folder = self.evidence / label
        folder.mkdir(parents=True, exist_ok=True)
        for path in paths:
            if path.exists():
                shutil.copy2(path, folder / path.name)
        for suffix in ("", "-wal", "-shm"):
            db = Path(str(self.db) + suffix)
            if db.exists():
                shutil.copy2(db, folder / db.name)

    # -- one round

    def plan(self, step: Step) -> dict[Path, dict[str, list[str]]]:
        """{file: {field: new values}} that this round's run will write (plan_writes on the same index)."""
        with open_library(self.db) as library:  # the service tag --write itself plans with
            with library.session() as session:
                ids = list(session.scalars(select(Track.id).order_by(Track.id)))
            plans = writes.plan_write(library, self.vocabulary, ids, step.policy)
        planned = {}
        for plan in plans:
            path = Path(plan.path)
            if plan.error is not None:
                self.problem(f"plan: {path.name}: {plan.error}")
                continue
            expected_old = {name: self.state[path].get(name, []) for name in plan.old}
            if plan.old != expected_old:
                self.problem(f"plan: {path.name} reads {plan.old}, expected {expected_old}")
            planned[path] = plan.new
        return planned

    def run_tool(self, step: Step, kill: tuple[str, float] | None) -> dict:
        """Run tag --write; kill = (where, delay): "write" = after the diff is printed, "any" = from start."""
        cmd = [sys.executable, "main.py", "tag", str(self.music), "--write", "--db", str(self.db), "--quiet"]
        cmd += ["--device", "cpu", *step.args]
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        diff_at: list[float] = []
        diff_wall: list[float] = []
        diff_seen = threading.Event()
        err: list[bytes] = []

        def read_stdout() -> None:
            for line in proc.stdout:
                if not diff_seen.is_set() and DIFF_SUMMARY.match(line.decode("utf-8", "replace")):
                    diff_at.append(time.monotonic())
                    diff_wall.append(time.time())
                    diff_seen.set()
            diff_seen.set()  # end of output: stop waiting

        readers = [
            threading.Thread(target=read_stdout, daemon=True),
            threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True),
        ]
        for reader in readers:
            reader.start()
        killed = False
        where = "none"
        if kill is not None:
            where, delay = kill
            if where == "write":
                diff_seen.wait(self.args.round_timeout)
                if diff_at:
                    where = "write"
                    delay = max(0.0, delay - (time.monotonic() - diff_at[0]))
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.kill()  # SIGKILL
                killed = True
        try:
            proc.wait(timeout=self.args.round_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.problem(f"tag --write hung for {self.args.round_timeout} s; killed")
        ended = time.monotonic()
        for reader in readers:
            reader.join(10)
        stderr = b"".join(err).decode("utf-8", "replace")
        phase = "start-up" if not diff_at or (killed and ended < diff_at[0]) else "writing"
        return {
            "killed": killed,
            "aimed": where,
            "phase": phase if killed else "finished",
            "rc": proc.returncode,
            "stderr": stderr,
            "total_s": ended - started,
            "write_s": self.last_write_s(diff_wall[0]) if diff_at and not killed else None,
        }

    def last_write_s(self, diff_wall: float) -> float | None:
        """Seconds from the printed diff to the journal's last update of the latest batch (the last file
        written): the writing window a kill should land in (the interpreter's exit after it is not)."""
        with sqlite3.connect(self.db) as conn:
            row = conn.execute(
                "SELECT max(updated_at) FROM write_entries"
                " WHERE batch_id = (SELECT max(id) FROM write_batches)"
            ).fetchone()
        if not row or row[0] is None:
            return None
        last = datetime.fromisoformat(row[0]).replace(tzinfo=UTC).timestamp()  # the index's naive UTC
        return max(0.0, last - diff_wall)

    def check_round(self, n: int, step: Step, planned: dict, run: dict) -> dict:
        t = self.totals
        bad_files: list[Path] = []
        holds: Counter = Counter()
        # The tool itself
        crashed = "Traceback" in run["stderr"] or (not run["killed"] and run["rc"] != 0)
        if crashed:
            t.crashes += 1
            self.problem(f"round {n}: the tool failed (rc {run['rc']}):\n{run['stderr'][-2000:]}")
        latest, entries, stale_planned = journal(self.db, self.latest_batch)
        # A batch is created after recover_journal; a run that ended normally went through it too.
        got_past_recovery = latest > self.latest_batch or (not run["killed"] and run["rc"] == 0)
        # Files
        for path in self.files:
            t.files_checked += 1
            name = path.name
            try:
                payload = audio_payload_digest(path)
                tags = read_tags(path)
                full, _ = snapshot_of(path)
            except Exception as exc:
                t.damaged += 1
                bad_files.append(path)
                self.problem(f"round {n}: {name} cannot be read any more: {type(exc).__name__}: {exc}")
                continue
            if payload != self.original[path].payload:
                t.damaged += 1
                bad_files.append(path)
                self.problem(f"round {n}: {name}: audio payload changed")
            content = self.sha(path)
            if content not in self.verified_contents[path]:
                if audio_digest(path) == self.original[path].decoded:
                    self.verified_contents[path].add(content)
                else:
                    t.damaged += 1
                    bad_files.append(path)
                    self.problem(f"round {n}: {name}: decodes to other samples")
            new = planned.get(path, {})
            previous = self.state[path]
            now = {name_: tags.get(name_, []) for name_ in new}
            if now == {k: previous.get(k, []) for k in new}:
                held = "old"
            elif now == new:
                held = "new"
            else:
                held = "torn"
                t.torn += 1
                bad_files.append(path)
                self.problem(f"round {n}: {name}: torn tags {now}; old {previous}, new {new}")
            holds[held] += 1
            untouched_now = {k: v for k, v in tags.items() if k not in new}
            untouched_before = {k: v for k, v in previous.items() if k not in new}
            others_now = {k: v for k, v in tags.items() if k not in OWNED}
            others_orig = {k: v for k, v in self.original[path].tags.items() if k not in OWNED}
            if (
                untouched_now != untouched_before
                or others_now != others_orig
                or not_owned(full) != self.original[path].snapshot
            ):
                t.other_field_changes += 1
                bad_files.append(path)
                changed = {
                    k: (before.get(k), now_.get(k))
                    for before, now_ in ((untouched_before, untouched_now), (others_orig, others_now))
                    for k in set(before) | set(now_)
                    if before.get(k) != now_.get(k)
                }
                if not_owned(full) != self.original[path].snapshot:
                    changed["(the rest of the tag)"] = ("original", "changed")
                self.problem(
                    f"round {n}: {name}: a field the round did not write changed (was, now): {changed}"[:2000]
                )
            # The journal knows every replaced file (undo depends on it), and never claims an old one.
            status = entries.get(str(path))
            if held == "new" and new and status not in ("planned", "written"):
                t.journal_violations += 1
                self.problem(f"round {n}: {name} holds new values but its journal entry is {status}")
            if held == "old" and new and status == "written":
                t.journal_violations += 1
                self.problem(f"round {n}: {name} holds old values but its journal entry says written")
            self.state[path] = tags
        # Temporary copies
        temps = {p.name for p in find_stale_temp_files(self.music)}
        if len(temps) > 1:
            t.temp_violations += 1
            self.problem(f"round {n}: {len(temps)} temporary copies at once: {sorted(temps)}")
        if got_past_recovery:
            left = self.pending_temps & temps
            if left:
                t.temp_violations += 1
                self.problem(f"round {n}: temporary copies survived a later run's recovery: {sorted(left)}")
            if stale_planned:
                t.journal_violations += 1
                self.problem(f"round {n}: {stale_planned} journal entries still planned after a recovery")
            self.pending_temps = set(temps)
            if not run["killed"] and temps:
                t.temp_violations += 1
                self.problem(f"round {n}: a run that finished left temporary copies: {sorted(temps)}")
        else:
            self.pending_temps |= temps
        # The index
        integrity = integrity_ok(self.db)
        if integrity != "ok":
            t.integrity_failures += 1
            self.problem(f"round {n}: index integrity: {integrity}")
        self.latest_batch = latest
        mid_write = any(status == "planned" for status in entries.values())
        if not run["killed"]:
            outcome = "finished before the kill"
        elif mid_write:
            outcome = "mid-write" + (" (temp copy left)" if temps else "")
        elif holds["new"] == 0:
            outcome = f"before the first write ({run['phase']})"
        elif holds["new"] == len(planned):
            outcome = "after the last write"
        else:
            outcome = "between two files"
        t.outcomes[outcome] += 1
        if bad_files or integrity != "ok":
            label = f"round-{n:04d}"
            self.keep_evidence(label, sorted(set(bad_files)))
            self.reset_from_template(f"round {n} ({step.name}): see {self.evidence / label}")
        return {"holds": dict(holds), "temps": len(temps), "outcome": outcome, "bad": len(set(bad_files))}

    # -- undo

    def undo_all(self, *, with_cli: bool) -> None:
        t = self.totals
        t.undo_passes += 1
        undone = 0
        if with_cli:
            while True:
                proc = subprocess.run(
                    [sys.executable, "main.py", "undo", "--db", str(self.db)],
                    cwd=ROOT, env=self.env, capture_output=True, text=True,
                )  # fmt: skip
                if proc.returncode == 2 and "no write batch left" in proc.stderr:
                    break
                if "Traceback" in proc.stderr or proc.returncode != 0:
                    t.undo_failures += 1
                    self.problem(f"undo failed ({proc.returncode}): {proc.stderr[-2000:]}")
                    if proc.returncode == 2 or "Traceback" in proc.stderr:
                        break
                undone += 1
        else:
            with open_library(self.db) as library:
                while True:
                    try:
                        report = undo_batch(library)
                    except UndoError:
                        break
                    if report.failed:
                        t.undo_failures += 1
                        self.problem(f"undo of batch {report.batch_id}: {report.failed}")
                        break
                    undone += 1
        t.batches_undone += undone
        bad = []
        for path in self.files:
            try:
                tags = read_tags(path)
                full, _ = snapshot_of(path)
                payload = audio_payload_digest(path)
            except (TagReadError, Exception) as exc:
                bad.append(path)
                self.problem(f"after undo: {path.name} unreadable: {exc}")
                continue
            original = self.original[path]
            if tags != original.tags or full != original.full_snapshot or payload != original.payload:
                bad.append(path)
                self.problem(f"after undo: {path.name} holds {tags}, not its original {original.tags}")
            else:
                t.undo_restorations += 1
        temps = find_stale_temp_files(self.music)
        if temps:
            t.temp_violations += 1
            self.problem(f"after undo: temporary copies left: {[p.name for p in temps]}")
        how = "undo command" if with_cli else "undo_batch"
        print(
            f"  undo of every batch ({how}): {undone} batches, "
            f"{len(self.files) - len(bad)}/{len(self.files)} files back to their original tags",
            flush=True,
        )
        if bad:
            t.undo_failures += 1
            self.keep_evidence(f"undo-{t.undo_passes:03d}", bad)
            self.reset_from_template("undo did not restore every file")
        else:
            self.state = {path: dict(self.original[path].tags) for path in self.files}

    # -- main loop

    def run(self) -> int:
        args, t = self.args, self.totals
        self.prepare()
        started = time.monotonic()
        totals_s: list[float] = []
        writes_s: list[float] = []
        kills_since_undo = 0
        n = 0
        while t.kills < args.kills:
            step = CYCLE[self.step % len(CYCLE)]
            self.step += 1
            n += 1
            planned = self.plan(step)
            calibrating = n <= len(CYCLE)
            kill = None
            if not calibrating:
                total_s = float(np.median(totals_s))
                write_s = float(np.median(writes_s))
                if self.rng.random() < args.anywhere:
                    kill = ("any", self.rng.uniform(0, total_s))
                else:
                    # up to a little past the last file's journal commit
                    kill = ("write", self.rng.uniform(0, write_s * 1.1 + 0.05))
            run = self.run_tool(step, kill)
            if not run["killed"] and run["rc"] == 0:
                totals_s.append(run["total_s"])
                if run["write_s"] is not None:
                    writes_s.append(run["write_s"])
            t.rounds += 1
            if run["killed"]:
                t.kills += 1
                kills_since_undo += 1
                t.kills_in_writing += run["phase"] == "writing"
            else:
                t.finished += 1
            result = self.check_round(n, step, planned, run)
            record = {
                "round": n,
                "step": step.name,
                "aimed": run["aimed"],
                "delay_s": None if kill is None else round(kill[1], 3),
                "killed": run["killed"],
                "phase": run["phase"],
                "rc": run["rc"],
                "files_to_write": len(planned),
                **result,
            }
            self.log.write(json.dumps(record) + "\n")
            self.log.flush()
            if calibrating and n == len(CYCLE):
                print(
                    f"calibrated: a run takes {np.median(totals_s):.2f} s, its writing phase "
                    f"{np.median(writes_s):.2f} s",
                    flush=True,
                )
            if t.kills and run["killed"] and t.kills % 25 == 0:
                elapsed = time.monotonic() - started
                print(
                    f"{t.kills} kills ({t.kills_in_writing} while writing), {t.finished} finished, "
                    f"{t.files_checked} file checks, damaged {t.damaged}, torn {t.torn}, "
                    f"crashes {t.crashes}; {elapsed:.0f} s",
                    flush=True,
                )
            if kills_since_undo >= args.undo_every and t.kills < args.kills:
                self.undo_all(with_cli=False)
                kills_since_undo = 0
        self.undo_all(with_cli=True)
        elapsed = time.monotonic() - started
        self.log.close()
        return self.report(elapsed)

    def report(self, elapsed: float) -> int:
        t = self.totals
        failed = (
            t.damaged + t.torn + t.other_field_changes + t.crashes + t.temp_violations + t.journal_violations
        ) + (t.integrity_failures + t.undo_failures)
        rows = [
            ("kills (SIGKILL)", t.kills),
            ("  landing while writing", t.kills_in_writing),
            ("rounds that finished before the kill (incl. calibration)", t.finished),
            ("file checks", t.files_checked),
            ("damaged files", t.damaged),
            ("torn tag states", t.torn),
            ("other fields changed", t.other_field_changes),
            ("crashes of the tool (other than SIGKILL)", t.crashes),
            ("temporary-copy violations", t.temp_violations),
            ("journal violations", t.journal_violations),
            ("index integrity failures", t.integrity_failures),
            ("undo passes (batches undone)", f"{t.undo_passes} ({t.batches_undone})"),
            ("undo restorations (files back to original tags)", t.undo_restorations),
            ("undo failures", t.undo_failures),
            ("elapsed", f"{elapsed:.0f} s"),
        ]
        print(
            "\nSIGKILL loop over `tag --write`",
            f"(seed {self.args.seed}, {len(self.files)} files, {self.out})",
        )
        for label, value in rows:
            print(f"  {label:<58} {value}")
        print("  where the kills landed:")
        for outcome, count in t.outcomes.most_common():
            print(f"    {outcome:<56} {count}")
        summary = {label.strip(): value for label, value in rows} | {"outcomes": dict(t.outcomes)}
        summary["problems"] = t.problems
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2))
        print("RESULT:", "FAIL" if failed else "OK (nothing damaged, torn or crashed)")
        return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=500, help="SIGKILLs to land (default 500)")
    parser.add_argument("--seed", type=int, default=20250611)
    parser.add_argument("--out", help="work and result folder (default: a new folder under /tmp)")
    parser.add_argument(
        "--undo-every", type=int, default=50, metavar="N", help="undo every batch every N kills"
    )
    parser.add_argument(
        "--anywhere",
        type=float,
        default=0.2,
        help="share of kills spread over the whole run, not its writing",
    )
    parser.add_argument("--round-timeout", type=float, default=300.0, help="a run longer than this is a hang")
    args = parser.parse_args()
    if not FORMATS.is_dir():
        print(f"bench_sigkill: {FORMATS} is missing (the shared material is not here); nothing to do")
        return 0
    return Bench(args).run()


if __name__ == "__main__":
    sys.exit(main())
