"""Reliability at depth: thousands of damaged, odd and hostile files through scan, analyse and write.

    nice -n 19 .venv/bin/python bench/bench_fuzz.py [--files 10000] [--workers 2] [--timeout 60]
                                                   [--seed S] [--seconds 3] [--out DIR]

**Seeds.** Short excerpts (``--seconds``, default 3 s) of the 11 files of ``../shared/audio/formats`` (every
container, with their tags and covers) and of four music files, made once into ``--out/seeds``: re-encoded
with FFmpeg (PyAV) in the original's codec and container, the original's tags copied over with mutagen;
Ogg files cut at a page boundary instead (their header and comment pages kept byte for byte).

**Mutations** (seeded per file, so file *i* of seed *S* is always the same bytes): bit flips, byte-range
overwrites (random, zeros, 0xFF), truncations at random offsets, huge or random tag structures written into
the container's own headers (an ID3 frame claiming 2 GB, a FLAC metadata block of 16 MB that is not there,
a Vorbis comment count of 2^31, an MP4 atom of 4 GB, a RIFF/AIFF chunk or fmt field gone wild, an ASF
object of 2^63 bytes), duplicated headers, two seeds spliced together, 0-byte / tiny / random / text files,
and wrong extensions (an MP3 named .flac); one to three of them per file. Odd names on top of that: non-UTF-8
bytes, spaces, newlines, tabs, long names, a leading dash. Every batch of ``--batch`` mutated files also
holds unmutated **controls** (one per ten mutated files, odd names included).

**The run.** ``--workers`` processes (at most 2), each loading ``Analyzer(device="cpu")`` once. Per batch,
a worker first calls the public functions on every file, one at a time: ``audio.load_audio``,
``tags.read_tags``, the audio payload digest, and ``tags.write_tags`` on a copy; then the library path on
the batch folder with a fresh SQLite index: ``scanner.scan`` → ``store.analyse_pending`` →
``writing.plan_writes`` → ``writing.apply_writes`` (genre and mood replaced, comment block on). The parent
watches: an operation with no progress for ``--timeout`` seconds is a **hang** (the worker is killed and
replaced); a worker that dies (segfault, abort, out of memory) is a **crash**. Either way the batch is
run again with the library path file by file, which names the file; it is saved to ``--out/crashes`` or
``--out/hangs`` with its recipe, and left out of the batch.

**Verdicts.** Per mutated file: *decoded OK* (load_audio returned samples), and, when it fails anywhere,
whether the failure is *clean*: the public functions raise their own error type (AudioLoadError,
TagReadError, TagWriteError) whose message is one readable line naming the file, and the library path
reports it in **exactly one** line (scan, analysis, plan or write) that names the file and reads like a
sentence, not a raw exception (``KeyError: 'x'``, ``struct.error``, a traceback in the log). A file is
**damaged** when its bytes changed without a journaled write, or a write changed its audio payload. Every
**control** must come out byte-identical except for the intended tag write: written, audio payload equal
to its seed's, the written fields as planned, every other field and the rest of the tag snapshot equal.

Prints the totals (files, mutated, decoded OK, clean per-file errors, unclean errors, crashes, hangs,
damaged files, control failures, elapsed, files/s) and a breakdown by mutation; writes ``summary.json``
and examples of every unclean error to ``--out``. Exits 1 on any crash, hang, unclean error or damage.
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import hashlib
import json
import multiprocessing
import os
import random
import re
import shutil
import struct
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterable
from multiprocessing.connection import wait
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FORMATS = SHARED / "audio" / "formats"
MUSIC = SHARED / "audio" / "music"
MUSIC_SEEDS = (
    "asc-frontiers.mp3",
    "admiral_bob-choice_drum_and_bass.ogg",
    "warzone2100-legacy_track5.opus",
    "kevin_macleod-vibe_ace.ogg",
)
sys.path.insert(0, str(ROOT))

MAX_WORKERS = 2
CONTROL_EVERY = 10  # one control per this many mutated files
AUDIO_EXTS = (
    ".mp3",
    ".flac",
    ".ogg",
    ".opus",
    ".wav",
    ".aiff",
    ".m4a",
    ".wma",
    ".mp4",
    ".aac",
    ".oga",
    ".aif",
)
RAW_EXCEPTION_NAMES = sorted(
    {
        n
        for n in dir(builtins)
        if isinstance(getattr(builtins, n), type) and issubclass(getattr(builtins, n), BaseException)
    }
    | {
        "error",
        "struct.error",
        "zlib.error",
        "BadZipFile",
        "MutagenError",
        "HeaderNotFoundError",
        "FFmpegError",
    }
)
RAW_EXCEPTION = re.compile(r"(?:^|[\s(:])(?:" + "|".join(re.escape(n) for n in RAW_EXCEPTION_NAMES) + r"):")
REPR_LIKE = re.compile(r"<[\w.]+ object at 0x|<class '|Traceback \(most recent call last\)")


def cause_is_clear(cause: str | None) -> tuple[bool, str]:
    """Whether an error cause reads as a sentence a user can act on (and why not)."""
    if not cause or not cause.strip():
        return False, "empty message"
    if "\n" in cause or "\r" in cause:
        return False, "several lines"
    if len(cause) > 400:
        return False, "longer than 400 characters"
    if REPR_LIKE.search(cause):
        return False, "a Python repr or traceback"
    if RAW_EXCEPTION.search(cause):
        return False, "a raw Python exception"
    return True, ""


# ------------------------------------------------------------------------------------------------- seeds


def _ogg_excerpt(source: Path, target: Path, seconds: float) -> None:
    """The first pages of an Ogg file up to `seconds` of audio, the last one flagged end-of-stream."""
    from mutagen.ogg import OggPage

    pages = []
    with open(source, "rb") as f:
        while True:
            try:
                pages.append(OggPage(f))
            except EOFError:
                break
    rate = (
        48000
        if pages[0].packets[0].startswith(b"OpusHead")
        else struct.unpack("<I", pages[0].packets[0][12:16])[0]
    )
    kept = []
    for page in pages:
        kept.append(page)
        if page.position > 0 and page.position >= seconds * rate:
            break
    kept[-1].last = True
    with open(target, "wb") as f:
        for page in kept:
            f.write(page.write())


_ENCODERS = {  # (container name from musictagger.tags, codec) -> (PyAV format, encoder)
    ("mp3", None): ("mp3", "libmp3lame"),
    ("flac", None): ("flac", "flac"),
    ("wav", None): ("wav", "pcm_s16le"),
    ("aiff", None): ("aiff", "pcm_s16be"),
    ("m4a", "aac"): ("ipod", "aac"),
    ("m4a", "alac"): ("ipod", "alac"),
    ("wma", None): ("asf", "wmav2"),
}


def _encode_excerpt(source: Path, target: Path, kind: str, seconds: float) -> None:
    import av

    with av.open(str(source)) as inp:
        stream = inp.streams.audio[0]
        codec = stream.codec_context.name if kind == "m4a" else None
        fmt, encoder = _ENCODERS[(kind, codec)]
        rate = stream.codec_context.sample_rate
        layout = stream.codec_context.layout.name
        with av.open(str(target), "w", format=fmt) as out:
            ost = out.add_stream(encoder, rate=rate, layout=layout)
            if encoder == "aac" or encoder == "libmp3lame" or encoder == "wmav2":
                ost.bit_rate = 128000
            resampler = av.AudioResampler(format=ost.codec_context.format.name, layout=layout, rate=rate)
            done = 0
            limit = int(seconds * rate)
            for frame in inp.decode(stream):
                frame.pts = None
                for piece in resampler.resample(frame):
                    for packet in ost.encode(piece):
                        out.mux(packet)
                done += frame.samples
                if done >= limit:
                    break
            for piece in resampler.resample(None):
                for packet in ost.encode(piece):
                    out.mux(packet)
            for packet in ost.encode(None):
                out.mux(packet)


def _copy_tags(source: Path, target: Path, kind: str) -> None:
    from mutagen.aiff import AIFF
    from mutagen.asf import ASF
    from mutagen.flac import FLAC
    from mutagen.id3 import ID3
    from mutagen.mp4 import MP4
    from mutagen.wave import WAVE

    if kind == "mp3":
        try:
            tags = ID3(str(source), translate=False)
        except Exception:  # an untagged MP3
            tags = None
        with open(target, "rb") as f:  # drop the tag FFmpeg wrote
            head = f.read(10)
        if head.startswith(b"ID3"):
            ID3(str(target)).delete(str(target))
        if tags is not None:
            tags.save(str(target), v2_version=3 if tags.version[1] == 3 else 4, v23_sep=None)
    elif kind in ("wav", "aiff"):
        cls = WAVE if kind == "wav" else AIFF
        src = cls(str(source))
        if src.tags is None:
            return
        dst = cls(str(target))
        dst.add_tags()
        for frame in src.tags.values():
            dst.tags.add(frame)
        dst.save(v2_version=3 if src.tags.version[1] == 3 else 4, v23_sep=None)
    elif kind == "flac":
        src, dst = FLAC(str(source)), FLAC(str(target))
        if dst.tags is None:
            dst.add_tags()
        dst.tags.clear()
        dst.clear_pictures()
        for key, value in src.tags or []:
            dst.tags.append((key, value))
        for picture in src.pictures:
            dst.add_picture(picture)
        dst.save()
    elif kind == "m4a":
        src, dst = MP4(str(source)), MP4(str(target))
        if dst.tags is not None:
            dst.tags.clear()
        else:
            dst.add_tags()
        for key, value in (src.tags or {}).items():
            dst.tags[key] = value
        dst.save()
    elif kind == "wma":
        src, dst = ASF(str(source)), ASF(str(target))
        for key in list(dst.tags.keys()):
            del dst.tags[key]
        for key, value in src.tags.items():
            dst.tags[key] = value
        dst.save()


def _add_extras(target: Path, kind: str) -> None:
    """Make a tag richer where the source has little: a cover and a foreign field, which no write may lose."""
    from mutagen.flac import Picture
    from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm
    from mutagen.oggvorbis import OggVorbis

    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
    if kind == "m4a":
        f = MP4(str(target))
        f.tags["covr"] = [MP4Cover(png, imageformat=MP4Cover.FORMAT_PNG)]
        f.tags["----:com.apple.iTunes:REPLAYGAIN_TRACK_GAIN"] = [MP4FreeForm(b"-6.00 dB")]
        f.save()
    elif kind == "ogg" and target.suffix == ".ogg":
        import base64

        f = OggVorbis(str(target))
        picture = Picture()
        picture.type, picture.mime, picture.data = 3, "image/png", png
        f["metadata_block_picture"] = [base64.b64encode(picture.write()).decode("ascii")]
        f["replaygain_track_gain"] = ["-6.00 dB"]
        f.save()


def make_seeds(folder: Path, seconds: float) -> list[Path]:
    from musictagger.tags import container_of

    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(p for p in FORMATS.iterdir() if p.is_file()) + [
        MUSIC / n for n in MUSIC_SEEDS if (MUSIC / n).exists()
    ]
    seeds = []
    for source in sources:
        target = folder / (("music-" if source.parent == MUSIC else "") + source.name)
        seeds.append(target)
        if target.exists():
            continue
        partial = target.with_name(".partial" + target.suffix)
        kind = container_of(source).name
        if kind in ("ogg", "opus"):
            _ogg_excerpt(source, partial, seconds)
        else:
            _encode_excerpt(source, partial, kind, seconds)
            _copy_tags(source, partial, kind)
        if source.name in ("tagged_aac.m4a", "tagged.ogg"):
            _add_extras(partial, kind)
        partial.rename(target)
    return seeds


# ------------------------------------------------------------------------------------------------- mutations


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def _fix_ogg_page_crc(data: bytearray, at: int) -> None:
    """Recompute the CRC of the Ogg page containing offset `at` (so demuxers read past the damage)."""
    start = data.rfind(b"OggS", 0, at + 1)
    if start < 0 or start + 27 > len(data):
        return
    nseg = data[start + 26]
    if start + 27 + nseg > len(data):
        return
    body = sum(data[start + 27 : start + 27 + nseg])
    end = start + 27 + nseg + body
    if end > len(data):
        return
    page = bytearray(data[start:end])
    page[22:26] = b"\0\0\0\0"
    data[start + 22 : start + 26] = struct.pack("<I", _ogg_crc(bytes(page)))


def _syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


HUGE32 = (0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFF0, 0x80000000, 0)


def _header_biased(rng: random.Random, size: int) -> int:
    return rng.randrange(min(size, 4096)) if rng.random() < 0.6 else rng.randrange(size)


def m_bitflip(data: bytearray, rng: random.Random, **_) -> str:
    n = rng.choice((1, 1, 2, 4, 8, 32, 128))
    for _ in range(n):
        data[_header_biased(rng, len(data))] ^= 1 << rng.randrange(8)
    return f"bitflip x{n}"


def m_overwrite(data: bytearray, rng: random.Random, **_) -> str:
    length = rng.choice((1, 4, 16, 64, 512, 4096, max(1, len(data) // 10)))
    at = _header_biased(rng, len(data))
    fill = rng.choice(("random", "zeros", "ff"))
    chunk = {
        "random": bytes(rng.randrange(256) for _ in range(min(length, 65536))),
        "zeros": b"\0" * length,
        "ff": b"\xff" * length,
    }[fill]
    data[at : at + len(chunk)] = chunk[: max(0, len(data) - at)]
    return f"overwrite {fill} {len(chunk)}@{at}"


def m_truncate(data: bytearray, rng: random.Random, **_) -> str:
    at = rng.randrange(min(len(data), 2048)) if rng.random() < 0.4 else rng.randrange(len(data))
    del data[at:]
    return f"truncate@{at}"


def m_huge(data: bytearray, rng: random.Random, **_) -> str:
    """A tag or container structure whose size or count field claims far more than is there."""
    if data[:3] == b"ID3" and len(data) >= 10:
        version = data[3]
        size = rng.choice((0x7FFFFFFF, 0x7FFFFFF0, 0xFFFFFFFF)) if version == 3 else 0x0FFFFFFF
        size_bytes = struct.pack(">I", size) if version == 3 else _syncsafe(size)
        frame_id = rng.choice((b"APIC", b"TXXX", b"COMM", b"TCON", b"PRIV", b"GEOB", b"CHAP", b"TIT2"))
        frame = (
            frame_id + size_bytes + b"\0\0" + bytes(rng.randrange(256) for _ in range(rng.choice((0, 8, 64))))
        )
        if rng.random() < 0.5:  # the tag claims the most an ID3 size can say (256 MB) too
            data[6:10] = _syncsafe(0x0FFFFFFF)
        data[10:10] = frame
        return f"ID3 {frame_id.decode()} frame claiming {size} bytes"
    if data[:4] == b"fLaC":
        block_type = rng.choice((2, 3, 4, 5, 6, 126))
        length = rng.choice((0xFFFFFF, 0x800000, 0x10000))
        body = bytes(rng.randrange(256) for _ in range(rng.choice((0, 16, 256))))
        if block_type == 4 and rng.random() < 0.5:  # a Vorbis comment with 2^31 comments
            body = struct.pack("<I", 4) + b"fuzz" + struct.pack("<I", 0x7FFFFFFF) + body
        if block_type == 6 and rng.random() < 0.5:  # a picture whose data length is 4 GB
            body = (
                struct.pack(">II", 3, 9)
                + b"image/png"
                + struct.pack(">I", 0)
                + struct.pack(">IIIII", 1, 1, 24, 0, 0xFFFFFFFF)
            )
        # After STREAMINFO (4 + 4 + 34 bytes); the last-block flag of STREAMINFO stays as it is.
        at = 42 if len(data) >= 42 else len(data)
        data[at:at] = bytes([block_type]) + length.to_bytes(3, "big") + body
        return f"FLAC block {block_type} claiming {length} bytes"
    if data[:4] == b"OggS":
        for marker in (b"\x03vorbis", b"OpusTags"):
            at = data.find(marker)
            if at >= 0:
                field_at = at + len(marker)
                if rng.random() < 0.5:  # the vendor string's length
                    what = "vendor length"
                else:  # the comment count, right after the vendor string
                    vendor = (
                        struct.unpack("<I", data[field_at : field_at + 4])[0]
                        if field_at + 4 <= len(data)
                        else 0
                    )
                    field_at += 4 + vendor
                    what = "comment count"
                value = rng.choice(HUGE32)
                data[field_at : field_at + 4] = struct.pack("<I", value)
                fixed = rng.random() < 0.7
                if fixed:
                    _fix_ogg_page_crc(data, field_at)
                kind = marker.decode(errors="replace").strip(chr(3))
                return f"Ogg {kind} {what} = {value}" + (" (CRC fixed)" if fixed else "")
    if data[4:8] == b"ftyp":
        atoms = [
            a
            for a in (
                b"moov",
                b"trak",
                b"mdia",
                b"minf",
                b"stbl",
                b"stsz",
                b"stco",
                b"stsc",
                b"stts",
                b"udta",
                b"meta",
                b"ilst",
                b"covr",
                b"data",
                b"mdat",
                b"esds",
                b"alac",
                b"\xa9gen",
                b"----",
            )
            if data.find(a) >= 4
        ]
        if atoms:
            atom = rng.choice(atoms)
            at = data.find(atom)
            choice = rng.random()
            if choice < 0.5:
                value = rng.choice((*HUGE32, 1, 7))
                data[at - 4 : at] = struct.pack(">I", value)
                return f"MP4 atom {atom!r} size = {value}"
            if atom in (b"stsz", b"stco", b"stsc", b"stts") and choice < 0.8:
                value = rng.choice((0x7FFFFFFF, 0xFFFFFFFF, 0x10000000))
                count_at = at + 4 + 4 + (4 if atom == b"stsz" else 0)
                data[count_at : count_at + 4] = struct.pack(">I", value)
                return f"MP4 {atom!r} entry count = {value}"
            data[at - 4 : at] = struct.pack(">I", 1)  # a 64-bit size follows
            data[at + 4 : at + 4] = struct.pack(">Q", rng.choice((2**63 - 1, 2**40, 2**32 + 8)))
            return f"MP4 atom {atom!r} with a 64-bit size"
    if data[:4] in (b"RIFF", b"FORM"):
        big = data[:4] == b"FORM"
        pack = ">I" if big else "<I"
        ids = [
            c for c in (b"fmt ", b"data", b"id3 ", b"ID3 ", b"LIST", b"COMM", b"SSND") if data.find(c) >= 8
        ]
        if rng.random() < 0.2 or not ids:
            value = rng.choice(HUGE32)
            data[4:8] = struct.pack(pack, value)
            return f"{data[:4].decode()} size = {value}"
        chunk = rng.choice(ids)
        at = data.find(chunk)
        if chunk == b"fmt " and rng.random() < 0.6:
            which, offset, width = rng.choice(
                (("channels", 10, "<H"), ("rate", 12, "<I"), ("bits", 22, "<H"), ("format", 8, "<H"))
            )
            value = rng.choice(
                (0, 1, 3, 7, 0xFFFF, 0xFFFFFFFF) if width == "<I" else (0, 1, 3, 7, 64, 0xFFFF)
            )
            data[at + offset : at + offset + struct.calcsize(width)] = struct.pack(width, value)
            return f"WAV fmt {which} = {value}"
        if chunk == b"COMM" and rng.random() < 0.6:
            which, offset, width = rng.choice(
                (("channels", 8, ">H"), ("frames", 10, ">I"), ("bits", 14, ">H"))
            )
            value = rng.choice((0, 1, 0xFFFF) if width == ">H" else (0, 0xFFFFFFFF))
            data[at + offset : at + offset + struct.calcsize(width)] = struct.pack(width, value)
            return f"AIFF COMM {which} = {value}"
        value = rng.choice(HUGE32)
        data[at + 4 : at + 8] = struct.pack(pack, value)
        return f"chunk {chunk.decode()!r} size = {value}"
    if data[:16] == bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"):
        choice = rng.random()
        if choice < 0.4:
            value = rng.choice((2**63 - 1, 2**64 - 1, 0, 30))
            data[16:24] = struct.pack("<Q", value)
            return f"ASF header object size = {value}"
        if choice < 0.6:
            value = rng.choice((0x7FFFFFFF, 0xFFFFFFFF, 0))
            data[24:28] = struct.pack("<I", value)
            return f"ASF header object count = {value}"
        # One object inside the header (file/stream properties, content description, extended content, ...)
        objects, pos = [], 30
        while pos + 24 <= len(data) and len(objects) < 32:
            objects.append(pos)
            size = struct.unpack("<Q", data[pos + 16 : pos + 24])[0]
            if size < 24:
                break
            pos += size
        at = rng.choice(objects) if objects else 30
        value = rng.choice((2**63 - 1, 2**32, 0xFFFFFFFF, 0, 24))
        data[at + 16 : at + 24] = struct.pack("<Q", value)
        return f"ASF object at {at} size = {value}"
    # Anything else (MP3 without ID3, spliced or already damaged): a whole ID3 tag claiming 256 MB up front.
    data[0:0] = b"ID3\x04\x00\x00" + _syncsafe(0x0FFFFFFF) + b"TXXX" + _syncsafe(0x0FFFFFFF) + b"\0\0\x03a\0b"
    return "ID3 tag claiming 256 MB prepended"


def m_duplicate(data: bytearray, rng: random.Random, **_) -> str:
    if data[:3] == b"ID3" and len(data) > 10 and rng.random() < 0.5:
        size = sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(data[6:10])) + 10
        tag = bytes(data[:size])
        data[0:0] = tag
        return f"ID3 tag twice ({size} bytes)"
    k = rng.choice((4, 10, 64, 512, 4096, 16384))
    head = bytes(data[:k])
    at = 0 if rng.random() < 0.6 else rng.randrange(len(data))
    data[at:at] = head
    return f"first {len(head)} bytes again at {at}"


def m_splice(data: bytearray, rng: random.Random, other: bytes = b"", **_) -> str:
    cut = rng.randrange(len(data))
    cut2 = rng.randrange(len(other)) if other else 0
    del data[cut:]
    data.extend(other[cut2:])
    return f"spliced at {cut} with another seed from {cut2}"


def m_zero(data: bytearray, rng: random.Random, **_) -> str:
    del data[:]
    return "0 bytes"


def m_tiny(data: bytearray, rng: random.Random, **_) -> str:
    keep = rng.choice((1, 2, 3, 4, 8, 12, 16, 64))
    del data[keep:]
    return f"only the first {keep} bytes"


def m_noise(data: bytearray, rng: random.Random, **_) -> str:
    kind = rng.random()
    if kind < 0.4:
        data[:] = bytes(rng.randrange(256) for _ in range(rng.choice((17, 1000, 50000))))
        return "random bytes"
    if kind < 0.7:
        data[:] = b"This is not music.\n" * rng.choice((1, 50, 5000))
        return "a text file"
    data[:] = b"\0" * rng.choice((10, 4096, 100000))
    return "all zeros"


MUTATIONS = {  # name -> (function, weight)
    "bitflip": (m_bitflip, 20),
    "overwrite": (m_overwrite, 15),
    "truncate": (m_truncate, 15),
    "huge": (m_huge, 18),
    "duplicate": (m_duplicate, 8),
    "splice": (m_splice, 5),
    "zero": (m_zero, 2),
    "tiny": (m_tiny, 3),
    "noise": (m_noise, 3),
    "extension": (None, 8),  # content untouched, wrong extension only
}

ODD_PARTS = (
    b" spaces  in  name ",
    b"new\nline",
    b"tab\there",
    b"\xff\xfe not utf-8 \xc3\x28",
    b"latin-1 caf\xe9",
    "emoji \U0001f3b5 und Umlaute äöü".encode(),
    "combining e\u0301 and rtl \u202e".encode(),
    b"-leading-dash",
    b"quotes ' \" and back\\slash",
    b"percent %s %n %d",
    b"x" * 180,
    b"trailing dot.",
)


def make_name(rng: random.Random, stem: str, ext: str, odd: bool) -> bytes:
    name = stem.encode()
    if odd:
        part = rng.choice(ODD_PARTS)
        name = (part + b" " + name) if rng.random() < 0.5 else (name + b" " + part)
    return name[:240] + ext.encode()


class Recipe:
    """One fuzz file: how it is made from its seed (deterministic given the run's seed and its index)."""

    def __init__(self, index: int, role: str, seed_index: int, steps: list[str], name: bytes, kind: str):
        self.index, self.role, self.seed_index, self.steps, self.name, self.kind = (
            index,
            role,
            seed_index,
            steps,
            name,
            kind,
        )

    def as_json(self, seeds: list[Path]) -> dict:
        return {
            "index": self.index,
            "role": self.role,
            "seed": seeds[self.seed_index].name,
            "mutations": self.steps,
            "kind": self.kind,
            "name": self.name.decode("utf-8", "backslashreplace"),
            "name_hex": self.name.hex(),
        }


class Generator:
    def __init__(self, seeds: list[Path], run_seed: int):
        self.seeds = seeds
        self.data = [p.read_bytes() for p in seeds]
        self.run_seed = run_seed
        names, weights = zip(*((n, w) for n, (_, w) in MUTATIONS.items()), strict=True)
        self.names, self.weights = names, weights

    def mutated(self, index: int) -> tuple[Recipe, bytes]:
        rng = random.Random(self.run_seed * 1_000_003 + index)
        seed_index = rng.randrange(len(self.seeds))
        data = bytearray(self.data[seed_index])
        first = rng.choices(self.names, self.weights)[0]
        chosen = [first]
        if first not in ("zero", "extension"):
            while rng.random() < 0.3 and len(chosen) < 3:
                extra = rng.choices(self.names, self.weights)[0]
                if extra not in ("zero", "noise"):
                    chosen.append(extra)
        steps = []
        ext = self.seeds[seed_index].suffix
        for name in chosen:
            if name == "extension":
                ext = rng.choice([e for e in AUDIO_EXTS if e != ext])
                steps.append(f"named {ext}")
                continue
            if not data:
                continue
            function = MUTATIONS[name][0]
            other = self.data[rng.randrange(len(self.data))]
            steps.append(function(data, rng, other=other))
        odd = rng.random() < 0.15
        name = make_name(rng, f"{index:06d}-{first}", ext, odd)
        return Recipe(index, "mutated", seed_index, steps, name, first), bytes(data)

    def control(self, index: int) -> tuple[Recipe, bytes]:
        rng = random.Random(self.run_seed * 7_000_003 + index)
        seed_index = index % len(self.seeds)
        odd = rng.random() < 0.3
        name = make_name(rng, f"{index:06d}-control", self.seeds[seed_index].suffix, odd)
        return Recipe(index, "control", seed_index, [], name, "control"), self.data[seed_index]


# ------------------------------------------------------------------------------------------------- worker


def _sha(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def worker_main(conn, worker_id: int, options: dict) -> None:
    """A worker process: load the models once, then run batches sent by the parent until told to stop."""
    import logging
    import resource

    # C libraries (libmpg123 inside libsndfile, FFmpeg) write notes about damaged streams to stderr: keep
    # them in a file per worker, with any Python traceback of a dying worker.
    log_fd = os.open(
        os.path.join(options["log_dir"], f"worker-{worker_id}.stderr"),
        os.O_WRONLY | os.O_CREAT | os.O_APPEND,
        0o644,
    )
    os.dup2(log_fd, 2)
    os.close(log_fd)
    if options.get("memory_limit_gb"):
        limit = int(options["memory_limit_gb"] * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import torch

    torch.set_num_threads(1)
    from musictagger.analysis import Analyzer
    from musictagger.taxonomy import load_vocabulary

    analyzer = Analyzer(device="cpu")
    vocabulary = load_vocabulary()

    class Tracebacks(logging.Handler):
        def __init__(self):
            super().__init__(logging.WARNING)
            self.records: list[tuple[str, str]] = []

        def emit(self, record):
            if record.exc_info:
                self.records.append(
                    (record.getMessage(), "".join(traceback.format_exception(*record.exc_info)))
                )

    tracebacks = Tracebacks()
    logging.getLogger().addHandler(tracebacks)
    logging.getLogger().setLevel(logging.WARNING)
    conn.send(("ready", worker_id))
    while True:
        spec = conn.recv()
        if spec is None:
            return
        tracebacks.records.clear()
        result = run_batch(conn, spec, analyzer, vocabulary, options, tracebacks)
        conn.send(("result", result))


def _snapshot_diff(seed: str, path: str, written: Iterable[str] = ()) -> list[str]:
    """Keys of the tag snapshot, other than the fields the write owned (genre, mood, the comment block and
    the ``written`` fields: energy, BPM, key when it filled them), that differ between seed and file."""
    from musictagger.tags.containers import open_audio
    from musictagger.tags.fields import FIELDS, TagFamily

    fields = {"genre", "mood", "comment", *written}
    owned = {s.key for n in fields for fam in TagFamily for s in FIELDS[n].styles[fam]}
    owned.add("@vendor")
    snaps = []
    for p in (seed, path):
        container, audio = open_audio(p)
        snaps.append({k: v for k, v in container.tag_format.snapshot(audio).items() if k not in owned})
    before, after = snaps
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def _error(exc: BaseException) -> dict:
    return {"type": type(exc).__name__, "message": str(exc), "cause": getattr(exc, "cause", None)}


def _names_file(message: str, candidates: set[str]) -> bool:
    return any(message.startswith(c + ": ") for c in candidates)


def run_batch(conn, spec: dict, analyzer, vocabulary, options: dict, tracebacks) -> dict:
    from sqlalchemy import select

    from musictagger.audio import load_audio
    from musictagger.errors import AudioLoadError
    from musictagger.library import Track, WriteEntry, open_library
    from musictagger.library.policy import WritePolicy
    from musictagger.library.scanner import display_path, scan
    from musictagger.library.store import analyse_pending
    from musictagger.library.writing import _shown, apply_writes, plan_writes
    from musictagger.tags import TagReadError, TagWriteError, read_tags, write_tags
    from musictagger.tags.audio_payload import audio_payload_digest

    folder = os.fsencode(spec["dir"])
    direct = os.fsencode(spec["direct_dir"])
    files = spec["files"]
    facts: dict[int, dict] = {}

    def op(index: int | None, what: str) -> None:
        conn.send(("op", index, what))

    # -- 1. the public functions, one file at a time
    for item in files:
        index = item["index"]
        path = os.fsdecode(os.path.join(folder, bytes.fromhex(item["name_hex"])))
        candidates = {path, display_path(path), _shown(path)}
        f = facts[index] = {"errors": [], "unclean": [], "lines": [], "damage": []}
        f["sha_before"] = _sha(path)
        op(index, "load_audio")
        try:
            samples = load_audio(path)
            f["decoded"] = len(samples) > 0
        except AudioLoadError as exc:
            f["decoded"] = False
            f["errors"].append(("load_audio", str(exc)))
            ok, why = cause_is_clear(exc.cause)
            if not ok or not _names_file(str(exc), candidates):
                f["unclean"].append(("load_audio", str(exc), why or "does not name the file"))
        except BaseException as exc:
            f["decoded"] = False
            f["unclean"].append(("load_audio", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        op(index, "read_tags")
        try:
            f["tags"] = read_tags(path)
        except TagReadError as exc:
            f["tags"] = None
            f["errors"].append(("read_tags", str(exc)))
            ok, why = cause_is_clear(exc.cause)
            if not ok or not _names_file(str(exc), candidates):
                f["unclean"].append(("read_tags", str(exc), why or "does not name the file"))
        except BaseException as exc:
            f["tags"] = None
            f["unclean"].append(("read_tags", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        op(index, "payload")
        try:
            f["payload_before"] = audio_payload_digest(path)
        except Exception:  # an internal function: raising (anything) is its way to say "cannot read"
            f["payload_before"] = None
        op(index, "write_tags")
        copy = os.fsdecode(os.path.join(direct, bytes.fromhex(item["name_hex"])))
        shutil.copyfile(path, copy)
        copy_candidates = {copy, display_path(copy), _shown(copy)}
        try:
            change = write_tags(copy, {"genre": ["Fuzz Rock"], "mood": ["Calm"], "grouping": None})
            if change.written:
                if f["payload_before"] is not None and audio_payload_digest(copy) != f["payload_before"]:
                    f["damage"].append("write_tags changed the audio payload")
                back = read_tags(copy)
                if back.get("genre") != ["Fuzz Rock"] or back.get("mood") != ["Calm"]:
                    f["damage"].append(f"write_tags reported success but reads back {back}")
            f["direct_write"] = "written"
        except TagWriteError as exc:
            f["direct_write"] = "refused"
            f["errors"].append(("write_tags", str(exc)))
            if _sha(copy) != f["sha_before"]:
                f["damage"].append("write_tags refused but the file changed")
            ok, why = cause_is_clear(exc.cause)
            if not ok or not _names_file(str(exc), copy_candidates):
                f["unclean"].append(("write_tags", str(exc), why or "does not name the file"))
        except BaseException as exc:
            f["direct_write"] = "crashed"
            f["unclean"].append(("write_tags", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
            if os.path.exists(copy) and _sha(copy) != f["sha_before"]:
                f["damage"].append("write_tags raised and the file changed")
        with contextlib.suppress(OSError):
            os.unlink(copy)
        for message, trace in tracebacks.records:
            f["unclean"].append(("log", message, trace))
        tracebacks.records.clear()

    # -- 2. the library path: scan -> analyse -> plan -> write, on a fresh index
    policy = WritePolicy(
        genre="replace", mood="replace", max_genres=2, max_moods=2, min_score=0.0, comment_block=True
    )
    db = spec["db"]
    lines: list[tuple[str, str, str]] = []  # (stage, shown path, cause)
    planned: dict[str, dict] = {}
    library_crash = None
    by_candidate: dict[str, int] = {}
    paths: dict[int, str] = {}
    for item in files:
        path = os.fsdecode(os.path.join(folder, bytes.fromhex(item["name_hex"])))
        paths[item["index"]] = path
        for c in (path, display_path(path), _shown(path)):
            by_candidate[c] = item["index"]

    def library_run(targets: list[str], index: int | None) -> None:
        op(index, "library:scan")
        report = scan(
            library, targets, on_progress=lambda _r, p: op(index, "library:scan " + display_path(p))
        )
        lines.extend(("scan", p, c) for p, c in report.errors)
        op(index, "library:analyse")
        analysed = analyse_pending(
            library, analyzer, vocabulary, on_result=lambda tid, *_: op(index, f"library:analyse {tid}"),
            decode_workers=1,
        )  # fmt: skip
        lines.extend(("analyse", p, c) for p, c in analysed.errors)
        op(index, "library:plan")
        with library.session() as session:
            keys = [os.fsencode(t) for t in targets]
            tracks = [
                t
                for t in session.scalars(select(Track))
                if any(bytes(t.path_key) == k or bytes(t.path_key).startswith(k + b"/") for k in keys)
            ]
            plans = plan_writes(session, tracks, policy, vocabulary)
        for plan in plans:
            if plan.error is None:
                planned[plan.path] = plan.new
        op(index, "library:write")
        written = apply_writes(
            library, plans, policy, on_progress=lambda d, t: op(index, f"library:write {d}/{t}")
        )
        lines.extend(("write", p, c) for p, c in written.failed)

    with open_library(db) as library:
        try:
            if spec["isolate"]:
                for item in files:
                    library_run([paths[item["index"]]], item["index"])
            else:
                library_run([os.fsdecode(folder)], None)
        except BaseException as exc:
            library_crash = traceback.format_exc()
            del exc
        log_lines = list(tracebacks.records)
        tracebacks.records.clear()
        # -- 3. what happened to every file
        op(None, "postcheck")
        with library.session() as session:
            journal = {bytes(e.path_key): e.status for e in session.scalars(select(WriteEntry))}
    orphan_lines = []
    for stage, shown, cause in lines:
        index = by_candidate.get(shown)
        if index is None:
            orphan_lines.append((stage, shown, cause))
            continue
        facts[index]["lines"].append((stage, shown, cause))
    for message, trace in log_lines:
        hit = [i for c, i in by_candidate.items() if c and c in message]
        target = hit[0] if hit else None
        if target is None:
            orphan_lines.append(("log", message, trace))
        else:
            facts[target]["unclean"].append(("log", message, trace))
    for item in files:
        index = item["index"]
        f = facts[index]
        path = paths[index]
        op(index, "postcheck")
        status = journal.get(os.fsencode(path))
        f["journal"] = status
        f["sha_after"] = _sha(path)
        new = planned.get(path)
        f["planned"] = new
        if status == "written":
            try:
                after = audio_payload_digest(path)
            except Exception as exc:
                after = f"unreadable: {exc}"
            if f["payload_before"] is not None and after != f["payload_before"]:
                f["damage"].append("the library write changed the audio payload")
            try:
                back = read_tags(path)
                f["tags_after"] = back
                if new is not None and any(back.get(k, []) != v for k, v in new.items()):
                    f["damage"].append(f"written, but reads back {back}, not {new}")
                if item.get("seed_path"):  # a control: the rest of its tag must be its seed's
                    f["snapshot_diff"] = _snapshot_diff(item["seed_path"], path, new or ())
            except Exception as exc:
                f["damage"].append(f"written, then unreadable: {type(exc).__name__}: {exc}")
        elif f["sha_after"] != f["sha_before"]:
            f["damage"].append(f"its bytes changed without a written journal entry (entry: {status})")
        if len(f["lines"]) > 1:
            f["unclean"].append(("library", f"{len(f['lines'])} error lines for one file", repr(f["lines"])))
        for stage, shown, cause in f["lines"]:
            ok, why = cause_is_clear(cause)
            if not ok:
                f["unclean"].append((stage, f"{shown}: {cause}", why))
            if not shown.isprintable():  # printed as is, a line break in a name breaks the one line
                f["unclean"].append((stage, repr(shown), "the path is shown with raw control characters"))
    return {"id": spec["id"], "facts": facts, "library_crash": library_crash, "orphans": orphan_lines}


# ------------------------------------------------------------------------------------------------- parent


class Worker:
    def __init__(self, ctx, worker_id: int, options: dict):
        self.id = worker_id
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child, worker_id, options), daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.batch: dict | None = None
        self.last = time.monotonic()
        self.current: tuple[int | None, str] = (None, "starting")

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(10)
        self.conn.close()


class Fuzz:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="musictagger-fuzz-"))
        self.work = self.out / "work"
        self.totals = Counter()
        self.by_kind: dict[str, Counter] = defaultdict(Counter)
        self.examples: list[dict] = []
        self.unclean_kinds: Counter = Counter()
        self.causes: Counter = Counter()  # the library path's error messages, digits folded
        self.reproducers: list[dict] = []
        self.done_files = 0

    # -- batches

    def make_batches(self) -> list[list[tuple[str, int]]]:
        n = self.args.files
        mutated = [("mutated", i) for i in range(n)]
        batches = []
        control = 0
        for start in range(0, n, self.args.batch):
            batch = mutated[start : start + self.args.batch]
            for _ in range(max(1, len(batch) // CONTROL_EVERY)):
                batch.insert(self.rng.randrange(len(batch) + 1), ("control", control))
                control += 1
            batches.append(batch)
        return batches

    def recipe(self, role: str, index: int) -> tuple[Recipe, bytes]:
        return self.generator.mutated(index) if role == "mutated" else self.generator.control(index)

    def materialise(
        self, batch_id: int, members: list[tuple[str, int]], skip: set, isolate: bool, attempt: int
    ) -> dict:
        folder = self.work / f"batch-{batch_id:05d}-{attempt}"
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "files").mkdir(parents=True)
        (folder / "direct").mkdir()
        files = []
        for role, index in members:
            if (role, index) in skip:
                continue
            recipe, data = self.recipe(role, index)
            with open(os.path.join(os.fsencode(folder / "files"), recipe.name), "wb") as f:
                f.write(data)
            files.append(
                {
                    "index": self._key(role, index),
                    "role": role,
                    "name_hex": recipe.name.hex(),
                    "seed_path": str(self.seeds[recipe.seed_index]) if role == "control" else None,
                }
            )
        return {
            "id": batch_id,
            "dir": str(folder / "files"),
            "direct_dir": str(folder / "direct"),
            "db": str(folder / "index.sqlite"),
            "files": files,
            "isolate": isolate,
            "folder": str(folder),
        }

    @staticmethod
    def _key(role: str, index: int) -> int:
        return index if role == "mutated" else -(index + 1)

    @staticmethod
    def _unkey(key: int) -> tuple[str, int]:
        return ("mutated", key) if key >= 0 else ("control", -key - 1)

    # -- the run

    def run(self) -> int:
        args = self.args
        if self.out.exists():
            shutil.rmtree(self.work, ignore_errors=True)
        self.out.mkdir(parents=True, exist_ok=True)
        self.rng = random.Random(args.seed)
        started_seeds = time.monotonic()
        self.seeds = make_seeds(self.out / f"seeds-{args.seconds:g}s", args.seconds)
        self.generator = Generator(self.seeds, args.seed)
        print(
            f"{len(self.seeds)} seeds of {args.seconds:g} s in {time.monotonic() - started_seeds:.1f} s",
            flush=True,
        )
        self.reference = self.seed_reference()
        batches = self.make_batches()
        queue = [(i, members, set(), False, 0) for i, members in enumerate(batches)]
        ctx = multiprocessing.get_context("spawn")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        for name in ("MUSICTAGGER_CONFIG_DIR", "MUSICTAGGER_DATA_DIR", "MUSICTAGGER_CACHE_DIR"):
            os.environ[name] = str(self.out / "env" / name.rsplit("_", 2)[-2].lower())
        (self.out / "logs").mkdir(exist_ok=True)
        options = {"memory_limit_gb": args.memory_limit_gb, "log_dir": str(self.out / "logs")}
        workers = [Worker(ctx, i, options) for i in range(min(args.workers, MAX_WORKERS))]
        next_worker_id = len(workers)
        started = time.monotonic()
        total_files = sum(len(b) for b in batches)
        self.total_files = total_files
        last_print = 0
        while queue or any(w.batch is not None for w in workers):
            for w in workers:
                if w.ready and w.batch is None and queue:
                    batch_id, members, skip, isolate, attempt = queue.pop(0)
                    spec = self.materialise(batch_id, members, skip, isolate, attempt)
                    w.batch = {
                        "spec": spec,
                        "members": members,
                        "skip": skip,
                        "isolate": isolate,
                        "attempt": attempt,
                    }
                    w.last = time.monotonic()
                    w.current = (None, "batch sent")
                    w.conn.send(spec)
            ready = wait([w.conn for w in workers] + [w.process.sentinel for w in workers], timeout=1.0)
            now = time.monotonic()
            replaced = []
            for w in workers:
                died = w.process.sentinel in ready and not w.process.is_alive()
                while not died and w.conn in ready and w.conn.poll():
                    try:
                        message = w.conn.recv()
                    except (EOFError, OSError):
                        died = True
                        break
                    w.last = now
                    if message[0] == "ready":
                        w.ready = True
                    elif message[0] == "op":
                        w.current = (message[1], message[2])
                    elif message[0] == "result":
                        self.absorb(w.batch, message[1], queue)
                        w.batch = None
                if died or (not w.process.is_alive()):
                    self.lost(w, "crash", f"worker exited with {w.process.exitcode}", queue)
                    replaced.append(w)
                    continue
                limit = args.timeout if w.ready else max(args.timeout, 600)
                if now - w.last > limit:
                    self.lost(w, "hang", f"no progress for {now - w.last:.0f} s in {w.current[1]}", queue)
                    replaced.append(w)
            for w in replaced:
                w.kill()
                workers[workers.index(w)] = Worker(ctx, next_worker_id, options)
                next_worker_id += 1
            if self.done_files - last_print >= 500 or (
                not queue and self.done_files != last_print and not any(w.batch for w in workers)
            ):
                last_print = self.done_files
                elapsed = time.monotonic() - started
                rate = self.done_files / elapsed if elapsed else 0
                left = (total_files - self.done_files) / rate if rate else float("nan")
                t = self.totals
                print(
                    f"{self.done_files}/{total_files} files, {elapsed:.0f} s ({rate:.2f} files/s, "
                    f"~{left / 60:.0f} min left): crashes {t['crashes']}, hangs {t['hangs']}, "
                    f"unclean {t['unclean']}, damaged {t['damaged']}, "
                    f"control failures {t['control_failures']}",
                    flush=True,
                )
        for w in workers:
            with contextlib.suppress(OSError):
                w.conn.send(None)
            w.process.join(30)
            w.kill()
        return self.report(time.monotonic() - started)

    def seed_reference(self) -> dict[int, dict]:
        from musictagger.tags import read_tags
        from musictagger.tags.audio_payload import audio_payload_digest
        from musictagger.tags.containers import open_audio

        reference = {}
        for i, seed in enumerate(self.seeds):
            container, audio = open_audio(seed)
            reference[i] = {
                "payload": audio_payload_digest(seed),
                "tags": read_tags(seed),
                "snapshot": container.tag_format.snapshot(audio),
                "format": container.tag_format,
            }
        return reference

    # -- results

    def lost(self, w: Worker, what: str, detail: str, queue: list) -> None:
        """A worker crashed or hung: name the file, save it, run the batch again without it."""
        if w.batch is None:
            if what == "crash" and w.ready:
                self.totals["worker_deaths_idle"] += 1
            elif what == "crash":
                raise SystemExit(f"a worker could not start ({detail})")
            return
        batch = w.batch
        index, stage = w.current
        members, skip, isolate, attempt = (
            batch["members"],
            set(batch["skip"]),
            batch["isolate"],
            batch["attempt"],
        )
        spec = batch["spec"]
        per_file = stage in ("load_audio", "read_tags", "payload", "write_tags", "postcheck")
        if index is not None and (per_file or isolate):
            role, number = self._unkey(index)
            self.totals["crashes" if what == "crash" else "hangs"] += 1
            self.save_reproducer(what, role, number, f"{detail} ({stage})")
            skip.add((role, number))
            self.done_files += 1
            self.count_file_outcome(role, number, None)
            queue.insert(0, (spec["id"], members, skip, isolate, attempt + 1))
        elif not isolate:
            # In the library path over the whole batch: find the file by running the batch file by file.
            self.totals["batch_reruns"] += 1
            print(
                f"  batch {spec['id']}: {what} in {stage} ({detail}); running it again file by file",
                flush=True,
            )
            queue.insert(0, (spec["id"], members, skip, True, attempt + 1))
        else:  # isolated, yet not in any one file's operation
            self.totals["crashes" if what == "crash" else "hangs"] += 1
            self.save_batch(what, spec, detail + f" ({stage})")
            self.done_files += len(spec["files"])
        shutil.rmtree(spec["folder"], ignore_errors=True)

    def save_reproducer(self, what: str, role: str, number: int, detail: str) -> None:
        recipe, data = self.recipe(role, number)
        folder = self.out / ("crashes" if what == "crash" else "hangs")
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{role}-{number:06d}"
        (folder / (stem + os.path.splitext(recipe.name)[1].decode(errors="replace"))).write_bytes(data)
        info = recipe.as_json(self.seeds) | {"what": what, "detail": detail}
        (folder / (stem + ".json")).write_text(json.dumps(info, indent=2))
        self.reproducers.append(info)
        print(f"  !! {what}: {stem} {recipe.steps} -- {detail}", flush=True)

    def save_batch(self, what: str, spec: dict, detail: str) -> None:
        folder = self.out / ("crashes" if what == "crash" else "hangs") / f"batch-{spec['id']:05d}"
        shutil.copytree(spec["dir"], folder, dirs_exist_ok=True)
        (folder / "detail.txt").write_text(detail)
        print(f"  !! {what} in batch {spec['id']} not tied to one file: saved to {folder}", flush=True)

    def absorb(self, batch: dict, result: dict, queue: list) -> None:
        spec = batch["spec"]
        if result["library_crash"] is not None and not batch["isolate"]:
            self.totals["batch_reruns"] += 1
            print(f"  batch {spec['id']}: the library path raised; running it again file by file", flush=True)
            self.note_example("library path raised (whole batch)", {"traceback": result["library_crash"]})
            queue.insert(0, (spec["id"], batch["members"], set(batch["skip"]), True, batch["attempt"] + 1))
            shutil.rmtree(spec["folder"], ignore_errors=True)
            return
        if result["library_crash"] is not None:
            self.totals["crashes"] += 1
            self.note_example("library path raised (isolated)", {"traceback": result["library_crash"]})
            self.save_batch("crash", spec, result["library_crash"])
        for stage, shown, cause in result["orphans"]:
            self.totals["unclean"] += 1
            self.unclean_kinds["an error line naming no file of the batch"] += 1
            self.note_example("orphan line", {"stage": stage, "path": shown, "cause": cause})
        for key, f in result["facts"].items():
            for _stage, _shown, cause in f["lines"]:
                self.causes[re.sub(r"\d+", "N", cause)[:140]] += 1
            role, number = self._unkey(int(key))
            self.done_files += 1
            self.count_file_outcome(role, number, f)
        shutil.rmtree(spec["folder"], ignore_errors=True)

    def count_file_outcome(self, role: str, number: int, f: dict | None) -> None:
        t = self.totals
        t["files"] += 1
        recipe, _ = self.recipe(role, number)
        kind = self.by_kind[recipe.kind]
        kind["files"] += 1
        if f is None:  # crashed or hung: counted already
            kind["crash/hang"] += 1
            return
        if role == "control":
            t["controls"] += 1
            problems = self.control_problems(recipe, f)
            if problems:
                t["control_failures"] += 1
                self.note_example(
                    "control failure",
                    {"recipe": recipe.as_json(self.seeds), "problems": problems, "facts": _brief(f)},
                )
                self.save_file("control-failures", role, number)
            return
        t["mutated"] += 1
        if f["decoded"]:
            t["decoded_ok"] += 1
            kind["decoded OK"] += 1
        if f["damage"]:
            t["damaged"] += 1
            kind["damaged"] += 1
            self.note_example(
                "damage", {"recipe": recipe.as_json(self.seeds), "damage": f["damage"], "facts": _brief(f)}
            )
            self.save_file("damaged", role, number)
        failed = bool(f["errors"] or f["lines"])
        if f["unclean"]:
            t["unclean"] += 1
            kind["unclean"] += 1
            for stage, message, why in f["unclean"]:
                label = f"{stage}: " + (why.strip().splitlines()[-1][:160] if why else message[:160])
                self.unclean_kinds[label] += 1
            self.note_example(
                "unclean",
                {"recipe": recipe.as_json(self.seeds), "unclean": f["unclean"], "lines": f["lines"]},
            )
            self.save_file("unclean", role, number)
        elif failed:
            t["clean_errors"] += 1
            kind["clean errors"] += 1
        else:
            t["no_error"] += 1
            kind["no error"] += 1
        if f["journal"] == "written":
            t["written"] += 1
            kind["written"] += 1

    def control_problems(self, recipe: Recipe, f: dict) -> list[str]:
        problems = []
        ref = self.reference[recipe.seed_index]
        if not f["decoded"]:
            problems.append("load_audio failed")
        if f["errors"] or f["unclean"]:
            problems.append(f"errors: {f['errors']} {f['unclean']}")
        if f["lines"]:
            problems.append(f"error lines: {f['lines']}")
        if f.get("direct_write") != "written":
            problems.append(f"write_tags: {f.get('direct_write')}")
        if f["journal"] != "written":
            problems.append(f"not written by the library path (journal: {f['journal']})")
        if f["damage"]:
            problems.extend(f["damage"])
        if f["payload_before"] != ref["payload"]:
            problems.append("its audio payload differs from the seed's")
        if f["journal"] == "written":
            owned = {"genre", "mood", "comment", *(f.get("planned") or {})}  # energy, BPM, key: filled
            expected = {k: v for k, v in ref["tags"].items() if k not in owned}
            after = {k: v for k, v in f["tags_after"].items() if k not in owned}
            if after != expected:
                problems.append(f"fields it did not write changed: {after} vs {expected}")
            if f.get("snapshot_diff"):
                problems.append(f"the rest of the tag changed: {f['snapshot_diff']}")
        return problems

    def save_file(self, folder: str, role: str, number: int, cap: int = 300) -> None:
        target = self.out / folder
        target.mkdir(parents=True, exist_ok=True)
        if len(list(target.iterdir())) >= 2 * cap:
            return
        recipe, data = self.recipe(role, number)
        stem = f"{role}-{number:06d}"
        (target / (stem + os.path.splitext(recipe.name)[1].decode(errors="replace"))).write_bytes(data)
        (target / (stem + ".json")).write_text(json.dumps(recipe.as_json(self.seeds), indent=2))

    def note_example(self, kind: str, detail: dict) -> None:
        if sum(1 for e in self.examples if e["kind"] == kind) < 200:
            self.examples.append({"kind": kind, **detail})

    def report(self, elapsed: float) -> int:
        t = self.totals
        failed = t["crashes"] + t["hangs"] + t["unclean"] + t["damaged"] + t["control_failures"]
        rows = [
            ("files", t["files"]),
            ("mutated", t["mutated"] + sum(1 for r in self.reproducers if r["role"] == "mutated")),
            ("controls (unmutated, same batches)", t["controls"]),
            ("decoded OK (mutated, load_audio gave samples)", t["decoded_ok"]),
            ("written by the library path (mutated)", t["written"]),
            ("mutated files with no error at all", t["no_error"]),
            ("clean per-file errors", t["clean_errors"]),
            ("unclean errors (raw exception, traceback, != 1 line)", t["unclean"]),
            ("crashes", t["crashes"]),
            ("hangs", t["hangs"]),
            ("damaged files (mutated)", t["damaged"]),
            ("good files damaged or not written (controls)", t["control_failures"]),
            ("batches re-run file by file", t["batch_reruns"]),
            ("elapsed", f"{elapsed:.0f} s"),
            ("files/s", f"{t['files'] / elapsed:.2f}" if elapsed else "-"),
        ]
        print(
            f"\nFuzz run (seed {self.args.seed}, {len(self.seeds)} seeds of {self.args.seconds:g} s, "
            f"{self.out})"
        )
        for label, value in rows:
            print(f"  {label:<56} {value}")
        print("  by first mutation:")
        columns = (
            "files",
            "decoded OK",
            "written",
            "no error",
            "clean errors",
            "unclean",
            "damaged",
            "crash/hang",
        )
        print("    " + f"{'':<11}" + "".join(f"{c:>13}" for c in columns))
        for kind in sorted(self.by_kind):
            print("    " + f"{kind:<11}" + "".join(f"{self.by_kind[kind][c]:>13}" for c in columns))
        if self.unclean_kinds:
            print("  unclean errors by kind:")
            for label, count in self.unclean_kinds.most_common(30):
                print(f"    {count:>6}  {label}")
        print("  most frequent error messages of the library path (digits shown as N):")
        for cause, count in self.causes.most_common(self.args.show_causes):
            print(f"    {count:>6}  {cause}")
        summary = {label: value for label, value in rows} | {
            "causes": dict(self.causes.most_common()),
            "by_kind": {k: dict(v) for k, v in self.by_kind.items()},
            "unclean_kinds": dict(self.unclean_kinds),
            "reproducers": self.reproducers,
        }
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        (self.out / "examples.json").write_text(json.dumps(self.examples, indent=2, default=str))
        print("RESULT:", "FAIL" if failed else "OK (no crash, no hang, every error clean, nothing damaged)")
        return 1 if failed else 0


def _brief(f: dict) -> dict:
    return {k: v for k, v in f.items() if k not in ("snapshot_after",)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--files", type=int, default=10000, help="mutated files (default 10000); controls come on top"
    )
    parser.add_argument("--workers", type=int, default=2, help=f"worker processes (at most {MAX_WORKERS})")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds without progress that make a hang"
    )
    parser.add_argument("--seed", type=int, default=20250611)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of the seed excerpts (default 3)")
    parser.add_argument("--batch", type=int, default=40, help="mutated files per batch (default 40)")
    parser.add_argument("--memory-limit-gb", type=float, default=8.0, help="address-space limit per worker")
    parser.add_argument("--show-causes", type=int, default=25, help="error messages to list (default 25)")
    parser.add_argument("--out", help="seeds, work and results (default: a new folder under /tmp)")
    args = parser.parse_args()
    if not FORMATS.is_dir():
        print(f"bench_fuzz: {FORMATS} is missing (the shared material is not here); nothing to do")
        return 0
    return Fuzz(args).run()


if __name__ == "__main__":
    sys.exit(main())
