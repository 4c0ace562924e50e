"""Make the decoder test fixtures in tests/data/audio/ from /work/shared/audio/formats/.

    .venv/bin/python tools/make_audio_fixtures.py [--source DIR] [--dest DIR]

Writes, from the shared 20 s excerpt of Kevin MacLeod's "Vibe Ace" (CC BY 3.0):

- ``vibe_ace.<ext>`` and ``vibe_ace_{aac,alac}.m4a``: the same SECONDS (default 3.5 s, from 5.0 s
  into the excerpt) of the lossless ``untagged.wav`` (44.1 kHz, 16-bit stereo), in every container a
  DJ library holds: WAV, AIFF, FLAC (16-bit), ALAC in M4A (all lossless: the very same samples), and
  lossy MP3 (LAME, 128 kbit/s, with the LAME gapless header), Ogg Vorbis (libsndfile's libvorbis,
  q≈0.5), Opus (libopus 96 kbit/s at 48 kHz), AAC in M4A (FFmpeg aac, 128 kbit/s) and WMA v2 in ASF
  (128 kbit/s). All are 16-bit-sourced stereo at 44.1 kHz (Opus 48 kHz), so the tests exercise both
  the stereo mix-down and the resampler.
- ``tagged.ogg`` and ``tagged.ogg.npz``: plain copies of the shared Ogg file and its reference musicnn
  output (``shared/reference/musicnn/tagged.ogg.npz``), for the front-end parity test.

Opus is encoded at 48 kHz (the only rate Opus has); the 44.1 kHz source is brought there with soxr VHQ.
"""

from __future__ import annotations

import argparse
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
STEM = "vibe_ace"


def encode_pyav(path: Path, container: str, codec: str, pcm: np.ndarray, rate: int, bit_rate: int | None):
    """Encode ``pcm`` (frames, channels) float32 with FFmpeg through PyAV."""
    layout = "stereo" if pcm.shape[1] == 2 else "mono"
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        if bit_rate:
            stream.bit_rate = bit_rate
        if codec == "alac":
            stream.codec_context.format = "s16p"  # 16-bit source: store 16-bit, as iTunes does
        cc = stream.codec_context
        resampler = av.AudioResampler(
            format=cc.format, layout=layout, rate=rate, frame_size=cc.frame_size or 4096
        )
        src = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm.T), format="fltp", layout=layout)
        src.sample_rate = rate
        src.pts = 0
        src.time_base = Fraction(1, rate)
        frames = resampler.resample(src) + resampler.resample(None)
        for frame in frames:
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=SHARED / "audio" / "formats")
    ap.add_argument("--reference", type=Path, default=SHARED / "reference" / "musicnn")
    ap.add_argument("--dest", type=Path, default=ROOT / "tests" / "data" / "audio")
    ap.add_argument("--start", type=float, default=5.0, help="seconds into the shared excerpt")
    ap.add_argument("--seconds", type=float, default=3.5)
    args = ap.parse_args()
    args.dest.mkdir(parents=True, exist_ok=True)

    pcm16, rate = sf.read(args.source / "untagged.wav", dtype="int16", always_2d=True)
    a = round(args.start * rate)
    pcm16 = np.ascontiguousarray(pcm16[a : a + round(args.seconds * rate)])
    pcm = pcm16.astype(np.float32) / 32768.0  # exact: every int16 is a float32
    d, s = args.dest, STEM

    sf.write(d / f"{s}.wav", pcm16, rate, format="WAV", subtype="PCM_16")
    sf.write(d / f"{s}.aiff", pcm16, rate, format="AIFF", subtype="PCM_16")
    sf.write(d / f"{s}.flac", pcm16, rate, format="FLAC", subtype="PCM_16")
    sf.write(d / f"{s}.ogg", pcm, rate, format="OGG", subtype="VORBIS", compression_level=0.5)
    encode_pyav(d / f"{s}_alac.m4a", "ipod", "alac", pcm, rate, None)
    encode_pyav(d / f"{s}.mp3", "mp3", "libmp3lame", pcm, rate, 128_000)
    encode_pyav(d / f"{s}_aac.m4a", "ipod", "aac", pcm, rate, 128_000)
    encode_pyav(d / f"{s}.wma", "asf", "wmav2", pcm, rate, 128_000)
    pcm48 = soxr.resample(pcm, rate, 48000, quality="VHQ").astype(np.float32)
    encode_pyav(d / f"{s}.opus", "opus", "libopus", pcm48, 48000, 96_000)

    shutil.copyfile(args.source / "tagged.ogg", d / "tagged.ogg")
    # The same 20 s as tagged.ogg in another encoding: one recording in two files (library/recordings.py).
    shutil.copyfile(args.source / "untagged.mp3", d / "tagged_copy.mp3")
    shutil.copyfile(args.reference / "tagged.ogg.npz", d / "tagged.ogg.npz")

    total = 0
    for f in sorted(d.iterdir()):
        total += f.stat().st_size
        print(f"{f.stat().st_size:>9,d}  {f.relative_to(ROOT)}")
    print(f"{total:>9,d}  total")


if __name__ == "__main__":
    main()
