"""Make the tag-writing test fixtures in tests/data/formats/ from /work/shared/audio/formats/.

    .venv/bin/python tools/make_tag_fixtures.py [--source DIR] [--dest DIR] [--seconds 3.5]

Each fixture is the first SECONDS of the shared 20 s excerpt of Kevin MacLeod's "Vibe Ace" (CC BY 3.0),
in the same container and codec. 3.5 s: longer than one of the taggers' 3-s patches, the least a track
needs to be tagged at all (a shorter one is reported, not analysed):

- lossy files (MP3, Ogg Vorbis, Opus, AAC M4A, WMA) are cut by stream copy (PyAV remux, no re-encode),
  so their frames are the shared files' own frames;
- FLAC, WAV and AIFF are cut as PCM with soundfile, ALAC is re-encoded with PyAV (both lossless).

Then the shared file's tags are copied over with mutagen (ID3 version kept: v2.3 stays v2.3), and each
tagged fixture is completed to the state docs/tagging.md promises, because some shared files lost parts
of it when they were transcoded (their cover, and the comment, which ffmpeg turned into `1A_-_Energy_6` or,
in AIFF, into a `TXXX:comment` frame that is kept as a foreign frame):

- comment `1A - Energy 6` (Mixed In Key style) in the container's comment field, genre `Jazz`;
- the PNG cover from tagged_id3v24.mp3;
- bpm `130` and key `1A` where missing;
- fields musictagger must never touch: ReplayGain, a Serato-style cue blob, and for ID3 a second COMM
  frame (`iTunNORM`) and a GEOB frame.

untagged.mp3 and untagged.wav stay without any tag. The output is deterministic for given inputs.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import struct
import sys
from fractions import Fraction
from pathlib import Path

import av
import mutagen
import numpy as np
import soundfile as sf
from mutagen.aiff import AIFF
from mutagen.asf import ASF, ASFByteArrayAttribute, ASFUnicodeAttribute
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC, COMM, GEOB, TKEY, TXXX, PictureType
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, AtomDataType, MP4Cover, MP4FreeForm
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis

MIK_COMMENT = "1A - Energy 6"
REPLAYGAIN = "-6.50 dB"
CUE_BLOB = b"application/octet-stream\x00\x00Serato Markers2\x00\x01\x01" + bytes(range(64))

LICENCE_ROW = (
    "| all files here "
    "| Vibe Ace (Jazz Sampler): the shared 20 s excerpt from 0:10, transcoded, cut to {seconds:g} s "
    "| Kevin MacLeod (incompetech.com) | Free Music Archive, via librosa's example data "
    "| CC BY 3.0 (https://creativecommons.org/licenses/by/3.0/) |"
)
README = """\
# Tag-writing fixtures

Short excerpts (first {seconds:g} s) of the files in `/work/shared/audio/formats/`, one per container a DJ
library has, made by `tools/make_tag_fixtures.py` (run it again to rebuild them; tests never read
`/work/shared`).

| file | work | author | source | licence |
|---|---|---|---|---|
{row}

Tags: those of the shared files (title, artist, album, genre `Jazz`; the ID3 version is kept), completed
where the shared file lacks them with the comment `1A - Energy 6`, a 177-byte PNG cover, bpm `130`, key
`1A`, plus fields musictagger must leave alone (ReplayGain, a Serato-style cue blob; for ID3 also a
`COMM:iTunNORM` and a `GEOB` frame). `untagged.mp3` and `untagged.wav` have no tags at all.
"""

# file name -> how its audio is cut
LOSSY_REMUX = {
    "tagged_id3v24.mp3": ("mp3", {"id3v2_version": "0"}),
    "tagged_id3v23.mp3": ("mp3", {"id3v2_version": "0"}),
    "untagged.mp3": ("mp3", {"id3v2_version": "0"}),
    "tagged.ogg": ("ogg", {}),
    "tagged.opus": ("ogg", {}),
    "tagged_aac.m4a": ("ipod", {}),
    "tagged.wma": ("asf", {}),
}
PCM_CUT = ("tagged.flac", "tagged.aiff", "untagged.wav")
REENCODE = {"tagged_alac.m4a": ("ipod", "alac")}


def remux_head(src: Path, dst: Path, fmt: str, options: dict[str, str], seconds: float) -> None:
    """Stream-copy the audio packets that start before `seconds` (no decoding, no re-encoding)."""
    options = {**options, "fflags": "+bitexact"}  # no random Ogg serial numbers: reproducible fixtures
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt, options=options) as out:
        in_stream = inp.streams.audio[0]
        out_stream = out.add_stream_from_template(in_stream)
        for packet in inp.demux(in_stream):
            if packet.dts is None:
                continue
            if packet.pts is not None and packet.pts * in_stream.time_base >= seconds:
                break
            packet.stream = out_stream
            out.mux(packet)


def cut_pcm(src: Path, dst: Path, seconds: float) -> None:
    info = sf.info(str(src))
    frames = round(seconds * info.samplerate)
    data, rate = sf.read(str(src), frames=frames, dtype="int16", always_2d=True)
    sf.write(str(dst), data, rate, subtype=info.subtype, format=info.format)


def reencode_head(src: Path, dst: Path, fmt: str, codec: str, seconds: float) -> None:
    """Decode the first `seconds` and encode them again (for lossless codecs only)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt, options={"fflags": "+bitexact"}) as out:
        in_stream = inp.streams.audio[0]
        rate = in_stream.codec_context.sample_rate
        limit = round(seconds * rate)
        out_stream = out.add_stream(codec, rate=rate, layout=in_stream.codec_context.layout.name)
        out_stream.codec_context.format = in_stream.codec_context.format
        resampler_done = 0
        for frame in inp.decode(in_stream):
            samples = frame.to_ndarray()
            take = min(samples.shape[-1], limit - resampler_done)
            if take <= 0:
                break
            if take < samples.shape[-1]:
                samples = np.ascontiguousarray(samples[..., :take])
            new = av.AudioFrame.from_ndarray(samples, format=frame.format.name, layout=frame.layout.name)
            new.sample_rate = rate
            new.pts = resampler_done
            new.time_base = Fraction(1, rate)
            resampler_done += take
            for packet in out_stream.encode(new):
                out.mux(packet)
        for packet in out_stream.encode(None):
            out.mux(packet)


def copy_tags(src: Path, dst: Path) -> None:
    """Replace dst's tags by src's, container by container (plain mutagen, no musictagger code)."""
    source = mutagen.File(str(src))
    if isinstance(source, MP3 | AIFF):
        kind = type(source)
        raw = kind(str(src), translate=False)  # frames exactly as stored, v2.3 frames stay v2.3 frames
        target = kind(str(dst), translate=False)
        if target.tags is None:
            target.add_tags()
        target.tags.clear()
        for frame in raw.tags.values():
            target.tags.add(frame)
        target.save(v2_version=raw.tags.version[1], v23_sep=None)
    elif isinstance(source, FLAC | OggVorbis | OggOpus):
        target = type(source)(str(dst))
        if target.tags is None:
            target.add_tags()
        list.clear(target.tags)
        list.extend(target.tags, list(source.tags))
        if isinstance(source, FLAC):
            target.clear_pictures()
            for picture in source.pictures:
                target.add_picture(picture)
        target.save()
    elif isinstance(source, MP4):
        target = MP4(str(dst))
        if target.tags is None:
            target.add_tags()
        target.tags.clear()
        target.tags.update(source.tags)
        target.save()
    elif isinstance(source, ASF):
        target = ASF(str(dst))
        target.tags.clear()
        for key, value in source.tags:
            target.tags.append((key, value))
        target.save()
    else:
        raise SystemExit(f"{src}: unexpected container {type(source).__name__}")


def asf_picture(png: bytes) -> ASFByteArrayAttribute:
    """A WM/Picture value: type, data size, MIME and description (UTF-16LE, NUL-ended), data."""
    mime = "image/png\x00".encode("utf-16-le")
    desc = "cover\x00".encode("utf-16-le")
    return ASFByteArrayAttribute(struct.pack("<BI", PictureType.COVER_FRONT, len(png)) + mime + desc + png)


def flac_picture(png: bytes) -> Picture:
    pic = Picture()
    pic.type = PictureType.COVER_FRONT
    pic.mime = "image/png"
    pic.desc = "cover"
    pic.width, pic.height = struct.unpack(">II", png[16:24])
    pic.depth = 24
    pic.data = png
    return pic


def complete_tags(path: Path, png: bytes) -> None:
    """Bring a tagged fixture to the documented state and add the fields we must never touch."""
    audio = mutagen.File(str(path))
    if isinstance(audio, MP3 | AIFF):
        audio = type(audio)(str(path), translate=False)
        tags = audio.tags
        if "COMM::eng" not in tags:
            tags.add(COMM(encoding=3, lang="eng", desc="", text=[MIK_COMMENT]))
        if not tags.getall("APIC"):
            tags.add(APIC(encoding=3, mime="image/png", type=PictureType.COVER_FRONT, desc="cover", data=png))
        if "TBPM" not in tags:
            tags.add(mutagen.id3.TBPM(encoding=3, text=["130"]))
        if "TKEY" not in tags:
            tags.add(TKEY(encoding=3, text=["1A"]))
        tags.add(TXXX(encoding=3, desc="REPLAYGAIN_TRACK_GAIN", text=[REPLAYGAIN]))
        tags.add(COMM(encoding=3, lang="eng", desc="iTunNORM", text=[" 0000044E 00000061 00009B67"]))
        tags.add(
            GEOB(
                encoding=0,
                mime="application/octet-stream",
                filename="",
                desc="Serato Markers2",
                data=CUE_BLOB,
            )
        )
        audio.save(v2_version=tags.version[1], v23_sep=None)
    elif isinstance(audio, FLAC | OggVorbis | OggOpus):
        tags = audio.tags
        if "comment" not in tags:
            tags["COMMENT"] = [MIK_COMMENT]
        if "bpm" not in tags:
            tags["BPM"] = ["130"]
        if "initialkey" not in tags:
            tags["INITIALKEY"] = ["1A"]
        tags["REPLAYGAIN_TRACK_GAIN"] = [REPLAYGAIN]
        tags["SERATO_MARKERS_V2"] = [base64.b64encode(CUE_BLOB).decode("ascii")]
        if isinstance(audio, FLAC):
            if not audio.pictures:
                audio.add_picture(flac_picture(png))
        elif "metadata_block_picture" not in tags:
            tags["METADATA_BLOCK_PICTURE"] = [base64.b64encode(flac_picture(png).write()).decode("ascii")]
        audio.save()
    elif isinstance(audio, MP4):
        tags = audio.tags
        tags["©cmt"] = [MIK_COMMENT]
        if "covr" not in tags:
            tags["covr"] = [MP4Cover(png, imageformat=MP4Cover.FORMAT_PNG)]
        if "tmpo" not in tags:
            tags["tmpo"] = [130]
        tags["----:com.apple.iTunes:initialkey"] = [MP4FreeForm(b"1A", dataformat=AtomDataType.UTF8)]
        tags["----:com.apple.iTunes:REPLAYGAIN_TRACK_GAIN"] = [
            MP4FreeForm(REPLAYGAIN.encode(), dataformat=AtomDataType.UTF8)
        ]
        tags["----:com.serato.dj:markersv2"] = [MP4FreeForm(CUE_BLOB, dataformat=AtomDataType.IMPLICIT)]
        audio.save()
    elif isinstance(audio, ASF):
        tags = audio.tags
        tags["Description"] = [ASFUnicodeAttribute(MIK_COMMENT)]
        if "WM/Picture" not in tags:
            tags["WM/Picture"] = [asf_picture(png)]
        tags["WM/BeatsPerMinute"] = [ASFUnicodeAttribute("130")]
        tags["WM/InitialKey"] = [ASFUnicodeAttribute("1A")]
        tags["REPLAYGAIN_TRACK_GAIN"] = [ASFUnicodeAttribute(REPLAYGAIN)]
        tags["SERATO_MARKERS_V2"] = [ASFByteArrayAttribute(CUE_BLOB)]
        audio.save()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("/work/shared/audio/formats"))
    parser.add_argument(
        "--dest", type=Path, default=Path(__file__).resolve().parents[1] / "tests/data/formats"
    )
    parser.add_argument("--seconds", type=float, default=3.5)
    args = parser.parse_args(argv)

    args.dest.mkdir(parents=True, exist_ok=True)
    png = MP3(str(args.source / "tagged_id3v24.mp3")).tags.getall("APIC")[0].data
    names = sorted([*LOSSY_REMUX, *PCM_CUT, *REENCODE])
    for name in names:
        src, dst = args.source / name, args.dest / name
        tmp = dst.with_name(f".{dst.stem}.tmp{dst.suffix}")
        if name in LOSSY_REMUX:
            fmt, options = LOSSY_REMUX[name]
            remux_head(src, tmp, fmt, options, args.seconds)
        elif name in REENCODE:
            fmt, codec = REENCODE[name]
            reencode_head(src, tmp, fmt, codec, args.seconds)
        else:
            cut_pcm(src, tmp, args.seconds)
        if mutagen.File(str(src)).tags is not None:
            copy_tags(src, tmp)
            complete_tags(tmp, png)
        else:
            strip = mutagen.File(str(tmp))
            if strip is not None and strip.tags is not None:
                strip.delete()
        shutil.move(tmp, dst)
        print(f"{dst.name:22s} {dst.stat().st_size:9,d} bytes")
    (args.dest / "README.md").write_text(
        README.format(seconds=args.seconds, row=LICENCE_ROW.format(seconds=args.seconds)), encoding="utf-8"
    )
    total = sum(p.stat().st_size for p in args.dest.iterdir())
    print(f"total {total:,d} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
