"""A digest of a file's audio payload, to prove that a tag write did not touch the audio.

We hash what the decoder is fed, not what it outputs: FFmpeg's demuxer (through PyAV) splits the file into
the codec's own packets — MP3 frames between the ID3 tags, FLAC frames after the metadata blocks, Ogg
packets regardless of how pages were renumbered, MP4 samples located through the stco/stsz tables, ASF
data packets, the PCM of a WAV/AIFF data chunk — and we hash every audio packet's bytes and timestamps plus
the stream's codec parameters and codec configuration (extradata).

Why this and not decoding to PCM: it is exact (bit-identical compressed data means bit-identical audio
with any decoder, not just FFmpeg's), it catches what a PCM comparison of one decoder could miss (a
rewritten codec config that this decoder ignores), and it costs no decoding — a few ms for a 20 s file
(packet parsing plus hashing), about 10x less than decoding. It is independent of mutagen, which wrote the
tags: an offset table mutagen failed to fix after growing a header would point FFmpeg at wrong bytes.

Codec config that *is* tag data is left out: FFmpeg puts all three Vorbis header packets into the
extradata, and the second one is the comment header.
"""

from __future__ import annotations

import hashlib
import os
from array import array

from musictagger.audio import open_av

# FFmpeg reads up to 5 MB by default to "find stream info", and in WAV it runs its format probes over that
# PCM (looking for DTS/AC-3 inside), 70 ms per file. Every container here states its parameters in its
# header, so 16 KB is plenty; both files of a comparison are opened the same way anyway.
_OPEN_OPTIONS = {"probesize": str(16 * 1024)}
_MISSING = -(2**63)  # a packet without timestamp


def _without_vorbis_comment_header(extradata: bytes) -> bytes:
    """Drop the comment packet from FFmpeg's Xiph-laced Vorbis extradata (identification + setup stay)."""
    if not extradata or extradata[0] != 2:
        return extradata
    pos, sizes = 1, []
    for _ in range(2):  # the last packet's size is implied
        size = 0
        while True:
            byte = extradata[pos]
            pos += 1
            size += byte
            if byte != 255:
                break
        sizes.append(size)
    identification = extradata[pos : pos + sizes[0]]
    setup = extradata[pos + sizes[0] + sizes[1] :]
    return identification + setup


def audio_payload_digest(path: str | os.PathLike) -> str:
    """Hex digest of every audio stream's codec parameters and packets (bytes and timestamps).

    Raises av.FFmpegError (or ValueError when there is no audio stream) if FFmpeg cannot demux the file.
    """
    digest = hashlib.sha256()  # not for security: equality of our own bytes; fast with SHA CPU extensions
    with open_av(path, options=_OPEN_OPTIONS) as container:
        streams = list(container.streams.audio)
        if not streams:
            raise ValueError("no audio stream")
        for position, stream in enumerate(streams):
            ctx = stream.codec_context
            extradata = bytes(ctx.extradata or b"")
            if ctx.name == "vorbis":
                extradata = _without_vorbis_comment_header(extradata)
            header = (
                position,
                ctx.name,
                ctx.sample_rate,
                ctx.channels,
                ctx.format.name if ctx.format else None,
                str(stream.time_base),
                stream.start_time,
                stream.duration,
                stream.frames,
            )
            digest.update(repr(header).encode())
            digest.update(len(extradata).to_bytes(8, "little"))
            digest.update(extradata)
        index_of = {stream.index: position for position, stream in enumerate(streams)}
        stamps = array("q")  # hashed once at the end: cheaper than per packet
        for packet in container.demux(streams):
            if packet.size == 0:  # the demuxer's end-of-stream marker
                continue
            stamps.extend(
                (
                    index_of[packet.stream.index],
                    _MISSING if packet.pts is None else packet.pts,
                    _MISSING if packet.dts is None else packet.dts,
                    packet.duration or 0,
                    packet.is_keyframe,
                    packet.size,
                )
            )
            digest.update(memoryview(packet))
        digest.update(stamps.tobytes())
    return digest.hexdigest()
