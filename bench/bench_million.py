"""The library's queries on a 1,000,000-track index, on SQLite and on PostgreSQL. Prints a table and plans.

    .venv/bin/python bench/bench_million.py [--tracks 1000000] [--backends sqlite,postgresql]
        [--dir /tmp/musictagger-million] [--repeat 15] [--rebuild] [--plans]

The index is filled once (bench/million_index.py: the real schema, bulk inserts) and kept under ``--dir``:
``index.sqlite`` and a PostgreSQL cluster in ``pg/`` (pgserver: a real server from a pip wheel, on a Unix
socket); later runs reuse it, ``--rebuild`` fills it again. The server gets ``shared_buffers`` of a quarter of
the machine's memory (``--pg-shared-buffers``), PostgreSQL's documented starting value for a dedicated server:
its default of 128 MB holds none of a million tracks' table, and every page a query visits is then copied
from the operating system's cache (the common word's search: 222-242 ms at 128 MB, 100-109 ms at 2-6 GB;
docs/scale.md). Every query is the project's own code, as the
CLI ``list`` and the app's table and facets run it:

- **facets genre / mood**: ``queries.facet_counts`` (the app's facet lists: the counts migration 0007's
  triggers keep; ``label_counts(…, confident_only=True)``, which counts the labels, took 2–15 s);
- **search artist**: ``services.search.find(TrackQuery(text=…))``, what ``list --search`` runs (the ids,
  then the tracks with their labels), for one artist;
- **search word (ids)**: the table's ``track_filter.filtered_ids(TrackFilter(text=…))`` for a common word;
- **genre+mood+bpm**: ``filtered_ids(TrackFilter(genres, moods, bpm))`` and ``load_rows`` of its first page;
- **no confident genre**: the same for ``TrackFilter(without=("genre",))`` (the app's "No confident genre",
  ``list --no-genre``): the analysed tracks none of whose genres is confident;
- **first page of 200 by title / bpm / path**: ``filtered_ids(…, limit=200)`` and ``load_rows`` of them: the
  table's first page on a new sort, before it reads every id (``list --sort … --limit 200`` too);
- **table reset by path / bpm**: what the app's table runs when it opens (by path) and on a new sort:
  ``filtered_ids`` of every track, then ``load_rows`` of the first page (500);
- **rescan 100k**: the scanner's own work on the rescanned folders (whole top-level folders in path order,
  until they hold 100,000 files or a few more): its ``_Scan`` (the folder digests of those folders loaded,
  library/folder_digests.py), its per-folder step ``folder_stated`` for each folder's (path, size, mtime)
  as stat would give them unchanged, the missing files' test and the digests' store at the end. The
  fill's unreadable files (0.2 %) are walked too and read again, as every scan reads a failed file: the
  read answers at once that it failed again (no file to open here), so their folders take the per-file
  path. The files' ``stat`` calls themselves are not timed. A first rescan, untimed and committed, stores
  the digests, as a user's first rescan after the upgrade does.

Each runs once to warm up, then ``--repeat`` times: p50 and p95 in ms. ``--plans`` prints the plan of every
statement each query sent (captured from the engine, so it is exactly what the code ran).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import million_index  # noqa: E402
from sqlalchemy import event, select  # noqa: E402

from musictagger.gui.library_rows import load_rows  # noqa: E402
from musictagger.library.db import Library, open_library  # noqa: E402
from musictagger.library.queries import ensure_fold_function, facet_counts  # noqa: E402
from musictagger.library.scanner import _ReadFailure, _Scan  # noqa: E402
from musictagger.library.schema import Track  # noqa: E402
from musictagger.library.track_filter import SortKey, TrackFilter, filtered_ids  # noqa: E402
from musictagger.services.search import TrackQuery, find  # noqa: E402
from musictagger.taxonomy import load_vocabulary  # noqa: E402

TARGET_MS = 200.0
RESCAN_FILES = 100_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/musictagger-million"))
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--rebuild", action="store_true", help="fill the index again")
    parser.add_argument("--plans", action="store_true", help="print each statement's query plan")
    parser.add_argument("--only", help="comma-separated query names to run")
    parser.add_argument(
        "--pg-shared-buffers",
        default=_quarter_of_memory(),
        help="the PostgreSQL server's shared_buffers (default: a quarter of this machine's memory, as "
        "PostgreSQL's documentation advises; 128MB is the server's own default)",
    )
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for backend in args.backends.split(","):
        with _opened(backend, args) as library:
            results[backend] = run_queries(library, args)
    _print_table(results)
    return 0


class _opened:
    """The backend's index, filled to ``--tracks`` (reused when it already is)."""

    def __init__(self, backend: str, args: argparse.Namespace):
        self.backend, self.args, self.server = backend, args, None

    def __enter__(self) -> Library:
        if self.backend == "sqlite":
            path = self.args.dir / "index.sqlite"
            if self.args.rebuild:
                for leftover in path.parent.glob(path.name + "*"):
                    leftover.unlink()
            url = str(path)
        elif self.backend == "postgresql":
            import shutil

            import pgserver

            pgdata = self.args.dir / "pg"
            if self.args.rebuild and pgdata.exists():
                pgserver.get_server(pgdata, cleanup_mode="stop").cleanup()
                shutil.rmtree(pgdata)
            self.server = pgserver.get_server(pgdata, cleanup_mode=None)
            _size_shared_buffers(self.server, self.args.pg_shared_buffers)
            url = self.server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        else:
            raise SystemExit(f"unknown backend {self.backend!r}: sqlite or postgresql")
        self.library = open_library(url)
        filled = million_index.filled_size(self.library)
        if filled != self.args.tracks:
            if filled is not None:
                raise SystemExit(f"{url} holds {filled:,} tracks, not {self.args.tracks:,}: use --rebuild")
            with self.library.session() as session:
                if session.scalar(select(Track.id).limit(1)) is not None:
                    raise SystemExit(f"{url} holds a fill that did not finish: use --rebuild")
            print(f"{self.backend}: filling {self.args.tracks:,} tracks …", flush=True)
            seconds = million_index.fill(self.library, self.args.tracks)
            print(f"{self.backend}: filled in {seconds['total']:.0f} s ({_rounded(seconds)})", flush=True)
        return self.library

    def __exit__(self, *exc) -> None:
        self.library.close()


def _quarter_of_memory() -> str:
    return f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // 4 // 2**20}MB"


def _size_shared_buffers(server, size: str) -> None:
    """Give the bench's server ``shared_buffers = size``, restarting it when that changes the setting
    (a setting the server reads only at start)."""
    from pgserver._commands import pg_ctl

    def asked_and_set() -> tuple[int, int]:
        query = "SELECT pg_size_bytes('{}'), pg_size_bytes(current_setting('shared_buffers'));"
        return tuple(int(v) for v in server.psql(query.format(size)).split("\n")[2].split("|"))

    asked, running = asked_and_set()
    if asked != running:
        server.psql(f"ALTER SYSTEM SET shared_buffers = '{size}';")
        restart = ["-w", "restart", "-l", str(server.log)]
        pg_ctl(restart, pgdata=server.pgdata, user=server.system_user, timeout=60)
        running = asked_and_set()[1]
    print(f"postgresql: shared_buffers {running / 2**20:,.0f} MB", flush=True)


def _rounded(seconds: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.0f} s" for name, value in seconds.items() if name != "total")


# --- the queries ------------------------------------------------------------------------------------------


def queries(library: Library, n_tracks: int) -> dict[str, Callable]:
    """name → fn(session): each is one thing a user does, through the project's own query code."""
    with library.session() as session:
        artist = session.scalar(select(Track.artist).where(Track.id == n_tracks // 2 + 1))
    artist_search = artist  # as a DJ types it; the search folds case, accents and width
    genre_mood_bpm = TrackFilter(genres=("Electronic",), moods=("Euphoric",), bpm=(120.0, 130.0))
    rescanned, folders = _simulated_stat(library)
    n_files = sum(len(files) for _folder, files in folders)

    def rescan(session) -> int:
        # The scan's own state and per-folder step, fed what stat would say: the session is rolled back.
        run = _Scan(session, _FailingReads(), None, rescanned)
        for folder, files in folders:
            run.folder_stated(folder, files, complete=True)
        while run.pending:
            run.store_oldest()
        run.mark_missing(rescanned)
        run.store_digests()
        assert run.report.unchanged + len(run.report.errors) == n_files, "simulated files not all unchanged"
        assert run.report.missing == 0
        return run.report.unchanged

    with library.session() as session:  # the first rescan since the upgrade: stores the digests
        rescan(session)
        session.commit()

    def first_page(track_filter: TrackFilter, sort: SortKey, page: int, limit: int | None = None) -> Callable:
        def run(session):
            ids = filtered_ids(session, track_filter, sort, limit=limit)
            return len(ids), len(load_rows(session, ids[:page]))

        return run

    vocabulary = load_vocabulary()

    return {
        "facets genre": lambda s: facet_counts(s, "genre"),
        "facets mood": lambda s: facet_counts(s, "mood"),
        f"search artist ({artist_search})": lambda s: find(s, vocabulary, TrackQuery(text=artist_search)),
        "search word (ids)": lambda s: filtered_ids(s, TrackFilter(text="midnight")),
        "genre+mood+bpm + page": first_page(genre_mood_bpm, SortKey(), 200),
        "no confident genre + page": first_page(TrackFilter(without=("genre",)), SortKey(), 200),
        "first page 200 by title": first_page(TrackFilter(), SortKey("title"), 200, limit=200),
        "first page 200 by bpm": first_page(TrackFilter(), SortKey("bpm"), 200, limit=200),
        "first page 200 by path": first_page(TrackFilter(), SortKey(), 200, limit=200),
        "table reset by path": first_page(TrackFilter(), SortKey(), 500),  # the app's table opening
        "table reset by bpm": first_page(TrackFilter(), SortKey("bpm"), 500),
        f"rescan {RESCAN_FILES // 1000}k unchanged": rescan,
    }


def _simulated_stat(
    library: Library,
) -> tuple[list[str], list[tuple[str, list[tuple[str, bytes, int, int]]]]]:
    """The folders a user rescans, and each folder's files as stat would give them unchanged: whole
    top-level folders (/srv/music/<initial>) in path order until they hold RESCAN_FILES files, passing
    over any that alone holds more (the fill's "#" holds 30 % of the library); in each, the subfolders
    that hold files, with their (path, path key, size, mtime) in name order."""
    with library.session() as session:
        rows = session.execute(
            select(Track.path_key, Track.size, Track.mtime_ns)
            .where(Track.missing_since.is_(None))
            .order_by(Track.path_key)
        )
        tops: dict[bytes, dict[bytes, list[tuple[str, bytes, int, int]]]] = {}
        for key, size, mtime in rows:
            key = bytes(key)
            top = key[: key.index(b"/", len(b"/srv/music/"))]
            folder = tops.setdefault(top, {}).setdefault(os.path.dirname(key), [])
            folder.append((os.fsdecode(key), key, size, mtime))
    roots: list[str] = []
    folders: list[tuple[str, list[tuple[str, bytes, int, int]]]] = []
    n_files = 0
    for top, under in tops.items():
        if n_files >= RESCAN_FILES:
            break
        files = sum(len(f) for f in under.values())
        if files <= RESCAN_FILES:
            roots.append(os.fsdecode(top))
            folders.extend((os.fsdecode(folder), f) for folder, f in under.items())
            n_files += files
    return roots, folders


class _FailingReads:
    """The scan's read pool for the simulated rescan: every file it reads is one the fill made unreadable
    (the others are unchanged, never read), and it fails again at once."""

    def submit(self, _read, path: str) -> Future:
        future: Future = Future()
        future.set_result(_ReadFailure(f"unreadable: {os.path.basename(path)}", vanished=False))
        return future


def run_queries(library: Library, args: argparse.Namespace) -> dict[str, dict]:
    backend = library.engine.dialect.name
    wanted = set(args.only.split(",")) if args.only else None
    results = {}
    named = queries(library, args.tracks)
    # The bench's own objects (its imports, the rescan's 107,411 simulated files) are frozen out of the
    # collector, as the app freezes its start-up objects (gui/app.py): a full collection walking them took
    # ~120 ms inside one run in five of a sorted page, the bench's heap timed rather than the query.
    gc.collect()
    gc.freeze()
    for name, query in named.items():
        if wanted is not None and not any(name.startswith(w) for w in wanted):
            continue
        statements: list[tuple[str, object]] = []
        with library.session() as session:
            ensure_fold_function(session)
            with _capturing(library, statements):
                answer = query(session)
            times = []
            started = time.perf_counter()
            query(session)
            first_ms = (time.perf_counter() - started) * 1000
            # A query that takes seconds is timed 3 times, not --repeat: its p95 is no news.
            for _ in range(args.repeat if first_ms < 1000 else 3):
                started = time.perf_counter()
                query(session)
                times.append((time.perf_counter() - started) * 1000)
                session.expunge_all()
            plans = [_plan(session, sql, params) for sql, params in statements] if args.plans else []
        times.sort()
        result = {
            "p50": statistics.median(times),
            "p95": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
            "size": _size(answer),
            "plans": plans,
        }
        results[name] = result
        print(f"{backend:10} {name:34} p50 {result['p50']:8.1f} ms  p95 {result['p95']:8.1f} ms  "
              f"({result['size']})", flush=True)  # fmt: skip
        for sql, plan in plans:
            print("    SQL:", " ".join(sql.split())[:600])
            print("    PLAN:", plan.replace("\n", "\n          "))
    return results


class _capturing:
    """Records every statement (and its parameters) the engine sends while open."""

    def __init__(self, library: Library, into: list):
        self.engine, self.into = library.engine, into

    def _record(self, _conn, _cursor, statement, parameters, _context, executemany) -> None:
        if not executemany:
            self.into.append((statement, parameters))

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def _plan(session, sql: str, params) -> tuple[str, str]:
    cursor = session.connection().connection.dbapi_connection.cursor()
    if session.get_bind().dialect.name == "sqlite":
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        depth: dict[int, int] = {0: -1}
        lines = []
        for node, parent, _unused, detail in cursor.fetchall():
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + detail)
        return sql, "\n".join(lines)
    cursor.execute("EXPLAIN " + sql, params)
    return sql, "\n".join(row[0] for row in cursor.fetchall())


def _size(answer) -> str:
    if isinstance(answer, list | tuple) and answer and isinstance(answer[0], tuple):
        return f"{len(answer)} labels" if isinstance(answer[0][0], str) else f"{answer}"
    if isinstance(answer, list):
        return f"{len(answer):,} rows"
    if isinstance(answer, tuple):
        return f"{answer[0]:,} ids, {answer[1]} rows"
    return f"{answer:,} unchanged" if isinstance(answer, int) else str(answer)


def _print_table(results: dict[str, dict[str, dict]]) -> None:
    backends = list(results)
    names = list(dict.fromkeys(name for per in results.values() for name in per))
    print()
    print(f"{'query':36}" + "".join(f"{b + ' p50':>16}{b + ' p95':>16}" for b in backends))
    for name in names:
        cells = []
        for backend in backends:
            r = results[backend].get(name)
            cells += ["-", "-"] if r is None else [f"{r['p50']:.1f}", f"{r['p95']:.1f}"]
        slow = any(r.get(name, {}).get("p95", 0) > TARGET_MS for r in results.values())
        print(f"{name:36}" + "".join(f"{c:>16}" for c in cells) + ("   > 200 ms" if slow else ""))
    print(f"\n{os.cpu_count()} CPUs; ms per query; target p95 <= {TARGET_MS:.0f} ms")


if __name__ == "__main__":
    raise SystemExit(main())
