"""The library commands as a DJ runs them: scan, dry run, write, query, export, undo."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, METAL

from musictagger.tags import read_tags

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, db):
    env = {**os.environ, "MUSICTAGGER_DB": str(db)}
    command = [sys.executable, str(ROOT / "main.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_scan_write_query_export_and_undo(tmp_path):
    music = tmp_path / "Music"
    music.mkdir()
    for name in ("tagged.flac", "tagged_id3v23.mp3", "tagged_aac.m4a"):
        shutil.copy(DATA / "formats" / name, music / name)
    shutil.copy(METAL, music / "metal.ogg")
    (music / "broken.mp3").write_text("not audio")
    db = tmp_path / "index.sqlite"
    originals = {p.name: read_tags(p) for p in music.iterdir() if p.name != "broken.mp3"}
    before = digests(music)

    scanned = run_cli("scan", str(music), db=db)
    assert scanned.returncode == 1  # the broken file is reported, the rest is indexed and analysed
    assert "4 added" in scanned.stderr and "broken.mp3: not an audio file" in scanned.stderr
    assert "analysed 4 tracks" in scanned.stderr
    assert "4/4 [" in scanned.stderr  # the analysis' progress bar knows its total (tracks/s, time left)
    rescanned = run_cli("scan", str(music), "--quiet", db=db)
    assert "4 unchanged" in rescanned.stderr and "analysed 0 tracks" in rescanned.stderr

    dry = run_cli("tag", str(music), "--dry-run", "--policy", "replace", "--comment-block", db=db)
    assert "metal.ogg\n  genre: (none) → Electronic; Rock\n" in dry.stdout  # the calibrated families
    assert "energy: (none) → 9" in dry.stdout
    assert digests(music) == before  # a dry run writes nothing

    wrote = run_cli("tag", str(music), "--write", "--policy", "replace", "--comment-block", "--quiet", db=db)
    assert "4 files written" in wrote.stderr, wrote.stderr
    metal = read_tags(music / "metal.ogg")
    assert metal["genre"] == ["Electronic", "Rock"] and metal["energy"] == ["9"]
    flac = read_tags(music / "tagged.flac")
    assert flac["comment"][0].startswith("1A - Energy 6 [")  # the Mixed-In-Key comment survives
    assert flac["title"] == originals["tagged.flac"]["title"]

    listed = run_cli("list", "--genre", "metal", "--json", db=db)  # any spelling of a label works
    assert [Path(json.loads(line)["path"]).name for line in listed.stdout.splitlines()] == ["metal.ogg"]
    playlist = tmp_path / "metal.m3u8"
    run_cli("export", str(playlist), "--genre", "Metal", db=db)
    lines = playlist.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == str(music / "metal.ogg")

    undone = run_cli("undo", db=db)
    assert undone.returncode == 0 and "4 files restored" in undone.stderr
    assert {p.name: read_tags(p) for p in music.iterdir() if p.name != "broken.mp3"} == originals
    assert run_cli("undo", db=db).returncode == 2  # nothing left to undo: said clearly, no traceback


# --- the CLI as a skin over the services: settings.toml, reviews, analysis options -------------------------

FORMATS = DATA / "formats"


def write_settings_file(**tables):
    from musictagger.settings import Settings, save_settings

    # Both taggers: the calibrated heads behind the written genres and moods read both embeddings.
    base = {"analysis": {"device": "cpu", "models": ("MSD_musicnn", "MTT_musicnn"), "workers": 1}}
    for name, values in tables.items():
        base[name] = {**base.get(name, {}), **values}
    return save_settings(Settings().replace(**base))


def in_process(capsys, *args):
    from musictagger.cli import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_tag_write_follows_settings_toml_and_the_reviews(tmp_path, capsys, monkeypatch):
    from musictagger.library import Track, open_library
    from musictagger.library.review import set_review
    from musictagger.services import analysis as analysis_service
    from musictagger.services.writes import format_diff, plan_write
    from musictagger.settings import load_settings

    music = tmp_path / "Music"
    music.mkdir()
    for name in ("untagged.wav", "tagged.flac", "untagged.mp3"):
        shutil.copy(FORMATS / name, music / name)
    db = tmp_path / "index.sqlite"
    write_settings_file(
        analysis={"run_heads": False, "batch_size": 5},
        write={"genre_mode": "replace", "max_genres": 1, "comment_block": True, "min_score": 0.05},
    )
    built = []
    real = analysis_service.Analyzer

    def spy(*args, **kwargs):
        # The tempo/key stage and the closer look are objects of their own (tests/test_services.py).
        kept = {name: value for name, value in kwargs.items() if name not in ("tempo_key", "refine")}
        built.append((args, kept))
        return real(*args, **kwargs)

    monkeypatch.setattr(analysis_service, "Analyzer", spy)
    code, _, err = in_process(capsys, "scan", music, "--db", db, "--quiet")
    assert code == 0 and "analysed 3 tracks with models MSD_musicnn, MTT_musicnn" in err
    # Heads off means no extra heads: the ones the written genres, moods and energy come from still run.
    assert built[-1] == (
        (("MSD_musicnn", "MTT_musicnn"),),
        {
            "device": "cpu",
            "precision": "auto",
            "library_precision": "auto",
            "batch_size": 5,
            "heads": ("dj_moods", "energy_valence", "genres"),
        },
    )

    with open_library(db) as library:
        with library.session() as session:
            ids = {os.path.basename(t.path): t.id for t in session.query(Track)}
            set_review(session, [ids["tagged.flac"]], "genre", ["Lounge"], "edited")
            set_review(session, [ids["untagged.wav"]], "mood", None, "rejected")
            session.commit()
        settings = load_settings()
        expected = format_diff(plan_write(library, settings.load_vocabulary(), ids.values(), settings))
    before = digests(music)

    code, out, err = in_process(capsys, "tag", music, "--dry-run", "--db", db, "--quiet")
    assert code == 0 and out.strip() == expected.strip()  # the app's plan: settings and reviews
    assert "dry run" in err and digests(music) == before

    code, out, err = in_process(capsys, "tag", music, "--write", "--db", db, "--quiet")
    assert code == 0 and "3 files written" in err
    flac, wav, mp3 = (read_tags(music / n) for n in ("tagged.flac", "untagged.wav", "untagged.mp3"))
    assert flac["genre"] == ["Lounge"]  # the review, not the settings' replace
    assert "mood" not in wav  # rejected: left alone
    assert len(mp3["genre"]) == 1 and mp3["comment"][0].startswith("[")  # max_genres 1, comment block

    # Options override the file for one run, and reach the Analyzer.
    code, _, _ = in_process(
        capsys, "scan", music, "--db", db, "--quiet", "--batch-size", "2", "--workers", "3", "--head",
        "genre_gtzan", "--model", "MSD_musicnn", "--model", "MTT_musicnn",
    )  # fmt: skip
    assert code == 0
    assert built[-1] == (
        (("MSD_musicnn", "MTT_musicnn"),),
        {
            "device": "cpu",
            "precision": "auto",
            "library_precision": "auto",
            "batch_size": 2,
            "heads": ("genre_gtzan", "dj_moods", "energy_valence", "genres"),
        },
    )
    assert load_settings().analysis.batch_size == 5  # the file itself is unchanged
    code, _, err = in_process(capsys, "undo", "--db", db)
    assert code == 0 and "3 files restored" in err
    assert read_tags(music / "tagged.flac")["genre"] == read_tags(FORMATS / "tagged.flac")["genre"]


def test_tag_printing_uses_the_display_settings(capsys):
    write_settings_file(display={"cap": 1, "threshold": 0.0}, analysis={"run_heads": False})
    code, out, _ = in_process(capsys, "tag", METAL, "--json", "--quiet")
    record = json.loads(out)
    assert code == 0 and len(record["genres"]) == 1 and len(record["moods"]) == 1
    assert list(record["tags"]) == ["MSD_musicnn", "MTT_musicnn"]
    assert set(record["heads"]) == {"dj_moods", "energy_valence", "genres"}  # run_heads off: no extras
    code, out, _ = in_process(capsys, "tag", METAL, "--json", "--quiet", "--top", "2")
    assert len(json.loads(out)["genres"]) == 2


def test_bad_options_and_bad_settings(capsys, caplog):
    from musictagger.settings import settings_path

    code, _, err = in_process(capsys, "scan", "/nowhere", "--device", "tpu", "--no-analyse")
    assert code == 2 and "analysis.device" in err
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text("[display]\ncap = 'many'\n", encoding="utf-8")
    code, out, _ = in_process(capsys, "list", "--json")  # an unusable value never stops a command
    assert code == 0 and out == ""
    assert "display.cap" in caplog.text


def test_list_and_export_search_like_the_app(tmp_path, capsys, library_url):
    from musictagger.library import Track, TrackLabel, open_library
    from musictagger.library.scanner import utc_now
    from musictagger.library.track_filter import TrackFilter, filtered_ids

    db = library_url
    with open_library(db) as library, library.session() as session:
        for path, artist, genre in (("/m/a.mp3", "Beyoncé", "Pop"), ("/m/b.mp3", "Mötley Crüe", "Metal")):
            track = Track(
                path_key=os.fsencode(path), path=path, folder="/m", size=1, mtime_ns=1, title="x",
                artist=artist, file_tags={}, scanned_at=utc_now(), duration_s=60.0,
            )  # fmt: skip
            track.labels.append(TrackLabel(category="genre", label=genre, score=0.15, rank=1, confident=True))
            if genre == "Pop":  # Metal heard in a.mp3 too, under its threshold: not a facet's track
                track.labels.append(TrackLabel(category="genre", label="Metal", score=0.12, rank=2))
            session.add(track)
        session.commit()
        table = {
            text: [session.get(Track, i).path for i in filtered_ids(session, TrackFilter(text=text))]
            for text in ("BEYONCE", "motley", "x")
        }
        in_the_app = [
            session.get(Track, i).path for i in filtered_ids(session, TrackFilter(genres=("Metal",)))
        ]
    assert in_the_app == ["/m/b.mp3"]
    for text, paths in table.items():
        code, out, _ = in_process(capsys, "list", "--search", text, "--json", "--db", db)
        assert code == 0 and [json.loads(line)["path"] for line in out.splitlines()] == paths
    # A label counts when it is confident, as the app's Metal facet lists the tracks; --min-score overrides.
    code, out, _ = in_process(capsys, "list", "--genre", "metal", "--db", db)
    assert [line.split("  ")[0] for line in out.splitlines()] == in_the_app
    assert out.startswith("/m/b.mp3  genres: Metal")
    code, out, _ = in_process(capsys, "list", "--genre", "metal", "--min-score", "0.1", "--db", db)
    assert [line.split("  ")[0] for line in out.splitlines()] == ["/m/a.mp3", "/m/b.mp3"]
    code, out, _ = in_process(capsys, "list", "--genre", "metal", "--min-score", "0.2", "--db", db)
    assert out == ""
    metal = tmp_path / "metal.m3u8"  # export lists what list lists
    code, _, err = in_process(capsys, "export", metal, "--genre", "metal", "--db", db)
    assert code == 0 and metal.read_text().splitlines()[1:] == ["#EXTINF:60,Mötley Crüe - x", "/m/b.mp3"]
    playlist = tmp_path / "p.m3u8"
    code, _, err = in_process(capsys, "export", playlist, "--search", "beyonce", "--db", db)
    assert code == 0 and "1 tracks" in err and playlist.read_text().splitlines()[-1] == "/m/a.mp3"


def test_list_and_export_narrow_by_energy_bpm_and_key_as_the_app(tmp_path, capsys, library_url):
    # A DJ's crate from the command line: the tracks the app's table shows for the same energy range, BPM
    # range and keys (one filter, library/track_filter.py), in the same order, each with its tempo, key and
    # energy; export writes the same tracks.
    from musictagger.library import Track, TrackLabel, open_library
    from musictagger.library.scanner import utc_now
    from musictagger.library.track_filter import SortKey, TrackFilter, filtered_ids

    db = library_url
    tracks = {  # name: (energy, bpm, key)
        "warmup": (3.2, 118.0, "A minor"),
        "peak": (8.4, 126.0, "E minor"),  # 9A: one step from 8A
        "peak-relative": (7.6, 127.9, "C major"),  # 8B: relative of 8A
        "too-hot": (8.6, 124.0, "A minor"),  # energy 9 as a DJ reads it
        "off-key": (7.0, 125.0, "F# minor"),  # 11A
        "too-fast": (7.0, 128.5, "A minor"),
        "not-analysed": (None, None, None),
    }
    with open_library(db) as library, library.session() as session:
        for name, (energy, bpm, key) in tracks.items():
            path = f"/m/{name}.mp3"
            track = Track(
                path_key=os.fsencode(path), path=path, folder="/m", size=1, mtime_ns=1, title=name,
                artist="DJ", file_tags={}, scanned_at=utc_now(), duration_s=300.0, energy=energy,
                valence=None if energy is None else 0.25, bpm=bpm, key=key,
            )  # fmt: skip
            track.labels.append(
                TrackLabel(category="genre", label="Electronic", score=0.8, rank=1, confident=True)
            )
            session.add(track)
        session.commit()
        app = TrackFilter(
            genres=("Electronic",),
            energy=(7, 8),
            bpm=(120, 128),
            keys=("A minor", "E minor", "D minor", "C major"),
        )
        in_the_app = [session.get(Track, i).path for i in filtered_ids(session, app, SortKey("energy", True))]
    assert in_the_app == ["/m/peak.mp3", "/m/peak-relative.mp3"]

    crate = ("--genre", "electronic", "--energy", "7-8", "--bpm", "120-128", "--mixes-with", "8A")
    code, out, err = in_process(capsys, "list", *crate, "--sort", "energy-", "--json", "--db", db)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["path"] for r in records] == in_the_app
    assert {k: records[0][k] for k in ("bpm", "key", "camelot", "energy", "valence")} == {
        "bpm": 126.0, "key": "E minor", "camelot": "9A", "energy": 8.4, "valence": 0.25,
    }  # fmt: skip
    # The printed line shows them too, the key in the app's notation (Camelot by default).
    code, out, _ = in_process(capsys, "list", "--search", "warmup", "--db", db)
    assert out.strip().endswith("bpm: 118.0  key: 8A  energy: 3.2")
    code, out, _ = in_process(capsys, "list", "--search", "not-analysed", "--db", db)
    assert out.strip().endswith("bpm: -  key: -  energy: -")
    # One key in any notation; open ranges; a single BPM is the tempo shown, rounded.
    code, out, _ = in_process(capsys, "list", "--key", "Am", "--energy", "8-", "--db", db)
    assert [line.split("  ")[0] for line in out.splitlines()] == ["/m/too-hot.mp3"]
    code, out, _ = in_process(capsys, "list", "--bpm", "128", "--sort", "bpm+", "--db", db)
    assert [line.split("  ")[0] for line in out.splitlines()] == ["/m/peak-relative.mp3", "/m/too-fast.mp3"]
    code, out, _ = in_process(capsys, "list", "--sort", "energy-", "--limit", "2", "--db", db)
    assert [line.split("  ")[0] for line in out.splitlines()] == ["/m/too-hot.mp3", "/m/peak.mp3"]
    code, out, _ = in_process(capsys, "list", "--bpm", "-119", "--db", db)
    assert [line.split("  ")[0] for line in out.splitlines()] == ["/m/warmup.mp3"]
    crate_file = tmp_path / "crate.m3u8"
    code, _, err = in_process(capsys, "export", crate_file, *crate, "--sort", "energy-", "--db", db)
    assert (
        code == 0
        and [line for line in crate_file.read_text().splitlines() if line.startswith("/")] == in_the_app
    )
    # What it cannot read is a usage error that names it; nothing is listed.
    for bad, message in (
        (("--energy", "0-4"), "runs from 1 to 10"),
        (("--energy", "8-6"), "low first"),
        (("--energy", "0.7"), "runs from 1 to 10"),
        (("--bpm", "fast"), "'fast' is not a BPM range"),
        (("--key", "H minor"), "names no key"),
        (("--sort", "mood"), "cannot sort by 'mood'"),
    ):
        with pytest.raises(SystemExit) as stopped:
            in_process(capsys, "list", *bad, "--db", db)
        out, err = capsys.readouterr()
        assert stopped.value.code == 2 and out == "" and message in err, (bad, err)


def test_list_the_analysed_tracks_with_no_confident_genre_or_mood(capsys, library_url):
    # The tracks a write leaves as they are, to tag by hand: analysed, and nothing in the category passes
    # its threshold (or scores --min-score). Not those never analysed, nor those whose analysis failed.
    from helpers import with_analysis

    from musictagger.library import Track, TrackLabel, open_library
    from musictagger.library.scanner import utc_now
    from musictagger.library.track_filter import TrackFilter, filtered_ids

    db = library_url
    tracks = {  # name: (analysed, error, [(category, label, score, confident)])
        "sure": (True, None, [("genre", "Jazz", 0.8, True), ("mood", "Chill", 0.6, True)]),
        "style-only": (True, None, [("style", "House", 0.7, True), ("mood", "Dark", 0.2, False)]),
        "unsure": (True, None, [("genre", "Jazz", 0.25, False), ("mood", "Chill", 0.6, True)]),
        "nothing": (True, None, []),
        "not-analysed": (False, None, []),
        "failed": (True, "decoding failed", []),
    }
    with open_library(db) as library, library.session() as session:
        for name, (analysed, error, labels) in tracks.items():
            path = f"/m/{name}.mp3"
            track = Track(
                path_key=os.fsencode(path), path=path, folder="/m", size=1, mtime_ns=1, title=name,
                file_tags={}, scanned_at=utc_now(), error=error,
            )  # fmt: skip
            for rank, (category, label, score, confident) in enumerate(labels, start=1):
                track.labels.append(
                    TrackLabel(category=category, label=label, score=score, rank=rank, confident=confident)
                )
            session.add(with_analysis(track) if analysed else track)
        session.commit()
        in_the_app = {
            category: [
                session.get(Track, i).title for i in filtered_ids(session, TrackFilter(without=(category,)))
            ]
            for category in ("genre", "mood")
        }
    # A confident style ("House") is a hint the table shows, never written: no genre for a write.
    assert in_the_app == {"genre": ["nothing", "style-only", "unsure"], "mood": ["nothing", "style-only"]}

    def listed(*options):
        code, out, err = in_process(capsys, "list", *options, "--json", "--db", db)
        assert code == 0, err
        return [Path(json.loads(line)["path"]).stem for line in out.splitlines()]

    assert listed("--no-genre") == in_the_app["genre"]
    assert listed("--no-mood") == in_the_app["mood"]
    assert listed("--no-genre", "--no-mood") == ["nothing", "style-only"]
    assert listed("--no-genre", "--min-score", "0.2") == ["nothing", "style-only"]  # Jazz 0.25 counts at 0.2
    assert listed("--no-mood", "--min-score", "0.7") == ["nothing", "style-only", "sure", "unsure"]


def test_a_dry_run_points_at_the_tracks_it_leaves_to_tag_by_hand(tmp_path, capsys):
    # The Vibe Ace excerpt has no confident genre (Electronic 0.45 under its 0.47; its confident style is a
    # hint, never written): the dry run says so, names the command that lists such tracks, and that
    # command lists exactly the files the diff leaves as they are.
    music = tmp_path / "Music"
    music.mkdir()
    shutil.copy(DATA / "audio" / "vibe_ace.flac", music / "vibe_ace.flac")
    shutil.copy(DATA / "formats" / "tagged.flac", music / "tagged.flac")
    db = tmp_path / "index.sqlite"
    code, out, err = in_process(capsys, "tag", music, "--dry-run", "--db", db, "--quiet")
    assert code == 0, err
    left = [
        Path(block.splitlines()[0]).name
        for block in ("\n" + out).split("\n/")[1:]
        if "(no confident genre: left as it is)" in block
    ]
    assert left == ["vibe_ace.flac"]
    assert "./run.sh list --no-genre lists them (the app: No confident genre)" in err
    code, out, _ = in_process(capsys, "list", "--no-genre", "--json", "--db", db)
    assert [Path(json.loads(line)["path"]).name for line in out.splitlines()] == left


def test_list_names_the_style_hint_beside_a_confident_genre(capsys, library_url):
    from musictagger.library import Track, TrackLabel, open_library
    from musictagger.library.scanner import utc_now

    with open_library(library_url) as library, library.session() as session:
        for path, genre_confident in (("/m/metal.mp3", True), ("/m/unsure.mp3", False)):
            track = Track(
                path_key=os.fsencode(path), path=path, folder="/m", size=1, mtime_ns=1, title="x",
                file_tags={}, scanned_at=utc_now(), duration_s=60.0,
            )  # fmt: skip
            track.labels.extend(
                [
                    TrackLabel(category="genre", label="Rock", score=0.7, rank=1, confident=genre_confident),
                    TrackLabel(category="style", label="Punk", score=0.35, rank=2, confident=True),
                    TrackLabel(category="style", label="Metal", score=0.42, rank=1, confident=True),
                ]
            )
            session.add(track)
        session.commit()
    code, out, _ = in_process(capsys, "list", "--db", library_url)
    lines = dict(line.split("  ", 1) for line in out.splitlines())
    assert code == 0 and "genres: Rock ✓  style: Metal (Rock)  moods: " in lines["/m/metal.mp3"]
    assert "style:" not in lines["/m/unsure.mp3"]  # no confident genre: a write puts none, no hint shown
    code, out, _ = in_process(capsys, "list", "--json", "--db", library_url)
    styles = {json.loads(line)["path"]: json.loads(line)["style"] for line in out.splitlines()}
    assert styles == {"/m/metal.mp3": {"label": "Metal", "family": "Rock"}, "/m/unsure.mp3": None}
