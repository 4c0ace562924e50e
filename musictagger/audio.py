"""Decode any audio file to float32 mono at a fixed rate (16 kHz for musicnn), block by block.

Qt-free and librosa-free. The output tracks the reference front end
(``librosa.load(path, sr=16000)``) as closely as a second implementation can:

* **Decoders.** libsndfile (``soundfile``) first: it reads WAV/AIFF/FLAC/Ogg Vorbis/Opus/MP3, and it is
  what ``librosa.load`` used for those, so the samples are the same. Whatever libsndfile cannot open or
  decode (AAC and ALAC in MP4/M4A, WMA, WavPack, APE, AC-3, ...) goes through FFmpeg via PyAV, which is
  also what librosa's ``audioread`` fallback ran for the reference files.
* **Mono** is the plain mean of all channels, as ``librosa.to_mono`` does (no FFmpeg downmix matrix,
  whose centre/surround weights differ).
* **Resampling** is libsoxr at quality HQ, streamed (``soxr.ResampleStream``), which gives the same
  samples as librosa's default one-shot ``soxr_hq`` (checked bit for bit). The output length is fixed
  to ``ceil(n_source * sample_rate / source_rate)`` like ``librosa.resample(fix=True)``.
* **Streaming.** The file is decoded in blocks of about 1.5 s and resampled as it goes: the source-rate
  signal is never held whole, only the target-rate mono result (``load_audio``) or one block at a time
  (``iter_audio_blocks``).
* **Damaged files** behave like a player: if decoding fails part-way (a truncated download, a corrupt
  tail), the audio decoded up to that point is returned and a warning is logged on this module's
  logger. A file that yields no samples at all raises ``AudioLoadError``. FFmpeg skips single
  undecodable packets (as ffmpeg/players do) and gives up after many in a row.

Every failure is an :class:`musictagger.errors.AudioLoadError` naming the file and a short cause.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import av
import numpy as np
import soundfile as sf
import soxr

from musictagger.errors import AudioLoadError

# PyAV's container set-up (InputContainer.__cinit__, which builds and frees FFmpeg option dictionaries) is
# not thread-safe: opening files from several threads at once segfaulted the scanner here (PyAV issue
# #2010 reports the same crash site). Every open in the app goes through ``open_av``; it holds the lock
# for the open only, so demuxing and decoding still run in parallel.
_AV_OPEN_LOCK = threading.Lock()


def open_av(path: str | os.PathLike[str], **options) -> av.container.InputContainer:
    """``av.open(path, **options)`` for reading, safe to call from any thread.

    FFmpeg's metadata is never used here, so tags that are not valid UTF-8 (an old tagger's Latin-1 Vorbis
    comment) are ignored instead of failing the open (``metadata_errors="ignore"`` unless told otherwise).
    """
    options.setdefault("metadata_errors", "ignore")
    with _AV_OPEN_LOCK:
        return av.open(os.fspath(path), mode="r", **options)


__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioInfo",
    "Excerpts",
    "iter_audio_blocks",
    "load_audio",
    "load_excerpts",
    "probe_audio",
]

log = logging.getLogger(__name__)

#: File extensions (lower case, with the dot) that the library scanner treats as audio.
#: Everything here decodes with libsndfile or FFmpeg; plain video containers (.mkv, .webm, .avi)
#: are left out on purpose, .mp4 is in because music is sold and ripped as .mp4/.m4a.
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".mp3", ".mp2", ".mpga",                    # MPEG audio
        ".flac",                                    # FLAC
        ".ogg", ".oga", ".opus", ".spx",            # Ogg: Vorbis, FLAC, Opus, Speex
        ".wav", ".wave", ".w64", ".rf64", ".bwf",   # RIFF / Wave64 / RF64 / Broadcast Wave
        ".aif", ".aiff", ".aifc",                   # AIFF
        ".m4a", ".m4b", ".mp4", ".aac", ".alac",    # AAC / ALAC in MP4, raw ADTS AAC
        ".caf",                                     # Apple Core Audio
        ".wma", ".asf",                             # Windows Media Audio
        ".wv",                                      # WavPack
        ".ape",                                     # Monkey's Audio
        ".mpc",                                     # Musepack
        ".tta",                                     # True Audio
        ".ac3", ".eac3", ".dts",                    # Dolby / DTS
        ".mka",                                     # Matroska audio
        ".dsf", ".dff",                             # DSD
        ".au", ".snd",                              # Sun/NeXT
    }
)  # fmt: skip

# Source frames per decode block for libsndfile (~1.5 s at 44.1 kHz, 512 KiB of float32 stereo).
_SF_BLOCK_FRAMES = 65536
# FFmpeg: give up after this many undecodable packets in a row (a file of garbage, not a glitch).
_MAX_CONSECUTIVE_BAD_PACKETS = 64
# FFmpeg: packets to try while looking for the first decoded frame before declaring a file undecodable.
_MAX_PRIMING_PACKETS = 256
# A header's duration is believed only if the file holds at least this many bytes per second of it (4 kbit/s,
# below music codecs' lowest): it sizes load_audio's first allocation.
_MIN_BYTES_PER_SECOND = 500
# Below this source sample rate a header is damaged, not a recording (telephone speech is 8 kHz).
_MIN_SAMPLE_RATE = 1000
# A seek-decoded excerpt is resampled with this much audio either side (output seconds), dropped after: soxr
# HQ's filter reaches a few milliseconds, so the kept samples are those a whole-file decode gives.
_EXCERPT_MARGIN_S = 0.05


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its headers (and, for FFmpeg files, its first decoded frame)."""

    duration_s: float | None  # None where the container does not say and it would need a full decode
    sample_rate: int
    channels: int
    codec: str  # "mp3", "flac", "vorbis", "opus", "aac", "alac", "wmav2", "pcm_s16", ...
    container: str  # "mp3", "flac", "ogg", "wav", "aiff", "mp4", "asf", ...


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def load_audio(path: str | os.PathLike[str], sample_rate: int = 16000) -> np.ndarray:
    """Decode ``path`` to a 1-D float32 mono array at ``sample_rate`` (the concatenation of
    :func:`iter_audio_blocks`). Raises :class:`AudioLoadError` on any failure."""
    decoder = _open_decoder(path)
    try:
        estimate = decoder.estimated_output_samples(sample_rate)
        # Grow one buffer in place (realloc) instead of keeping a list of blocks and concatenating,
        # which would briefly need twice the output's memory.
        out = np.empty(max(estimate or 0, 1) + 1024, dtype=np.float32)
        n = 0
        for block in _resampled_blocks(decoder, sample_rate, 1 << 18):
            if n + len(block) > len(out):
                out.resize(max(2 * len(out), n + len(block)), refcheck=False)
            out[n : n + len(block)] = block
            n += len(block)
        out.resize(n, refcheck=False)
        return out
    finally:
        decoder.close()


def iter_audio_blocks(
    path: str | os.PathLike[str], sample_rate: int = 16000, block_seconds: float = 30.0
) -> Iterator[np.ndarray]:
    """Yield the decoded audio as float32 mono blocks at ``sample_rate``.

    Every block has ``round(block_seconds * sample_rate)`` samples except the last, which is shorter
    (never empty). ``np.concatenate(list(iter_audio_blocks(p, sr)))`` equals ``load_audio(p, sr)``.
    The file is opened and checked when this is called, so a missing, unreadable or undecodable file
    raises :class:`AudioLoadError` here, not on the first ``next()``; later damage ends the stream
    early (see the module docstring). Close the generator (or exhaust it) to release the file.
    """
    block = round(block_seconds * sample_rate)
    if block < 1:
        raise ValueError(f"block_seconds={block_seconds} gives blocks of less than one sample")
    decoder = _open_decoder(path)
    return _closing_blocks(decoder, sample_rate, block)


@dataclass(frozen=True)
class Excerpts:
    """Stretches of a track at one sample rate, each equal (within the resampler's rounding) to the same
    samples of :func:`load_audio`; samples before the start or past the end are zeros."""

    n_samples: int  # the whole track's length at this rate, as load_audio would return it
    starts: tuple[int, ...]  # the first sample of each stretch (negative: it begins before the track)
    pieces: tuple[np.ndarray, ...]  # float32 mono, in the order of ``starts``


# Given a track's length in samples at the output rate: the ``[start, stop)`` stretches to decode, or None
# for the whole track.
ExcerptChoice = Callable[[int], Sequence[tuple[int, int]] | None]


def load_excerpts(
    path: str | os.PathLike[str], sample_rate: int, choose: ExcerptChoice
) -> np.ndarray | Excerpts:
    """Decode only the stretches ``choose(length)`` names, never the whole track into memory: a 2-hour
    mix costs the few seconds asked for. Returns :class:`Excerpts`, or the whole signal (as
    :func:`load_audio`) when ``choose`` says None (a short track) or the length cannot be known up front.

    libsndfile files (WAV, FLAC, Ogg, Opus, MP3, AIFF) are seeked: each stretch is read with a margin on a
    sample grid shared with the whole-file decode, resampled, and trimmed. Other containers (FFmpeg) are
    decoded as a stream from the start and only the stretches kept: bounded memory, exact samples, but no
    time saved on decoding. Raises :class:`AudioLoadError` like :func:`load_audio`.
    """
    decoder = _open_decoder(path)
    try:
        n_samples = decoder.estimated_output_samples(sample_rate)
        ranges = choose(n_samples) if n_samples else None
        if ranges is None:
            decoder.close()
            return load_audio(path, sample_rate)
        if isinstance(decoder, _SoundfileDecoder) and decoder.seekable():
            pieces = [decoder.excerpt(sample_rate, n_samples, a, b) for a, b in ranges]
        else:
            n_samples, pieces = _skimmed(decoder, sample_rate, ranges)
        return Excerpts(n_samples, tuple(a for a, _ in ranges), tuple(pieces))
    finally:
        decoder.close()


def _skimmed(
    decoder: _Decoder, sample_rate: int, ranges: Sequence[tuple[int, int]]
) -> tuple[int, list[np.ndarray]]:
    """Stream the whole file, keeping only ``ranges``: (its true length, the stretches)."""
    pieces = [np.zeros(b - a, dtype=np.float32) for a, b in ranges]
    n = 0
    for block in _resampled_blocks(decoder, sample_rate, 1 << 16):
        lo_block, hi_block = n, n + len(block)
        for (a, b), piece in zip(ranges, pieces, strict=True):
            lo, hi = max(a, lo_block), min(b, hi_block)
            if lo < hi:
                piece[lo - a : hi - a] = block[lo - lo_block : hi - lo_block]
        n = hi_block
    return n, pieces


def probe_audio(path: str | os.PathLike[str]) -> AudioInfo:
    """Read duration, rate, channels, codec and container without decoding the whole file.

    libsndfile formats need only their header; FFmpeg formats are opened and their first audio frame is
    decoded, so that a file that merely looks like audio (a text file named ``.mp3``) is rejected here
    already. Raises :class:`AudioLoadError` on any failure.
    """
    decoder = _open_decoder(path)
    try:
        return decoder.info
    finally:
        decoder.close()


# --------------------------------------------------------------------------------------------------
# Decoders: each yields (mono float32 chunk at the source rate, source rate)
# --------------------------------------------------------------------------------------------------


class _Decoder:
    path: str
    info: AudioInfo

    def __init__(self, path: str, info: AudioInfo, first: np.ndarray):
        self.path = path
        self.info = _plausible(path, info)
        self._first: np.ndarray | None = first  # the block decoded while opening, to prove it decodes

    def chunks(self) -> Iterator[tuple[np.ndarray, int]]:
        consumed = 0  # source samples handed out so far
        if self._first is not None:
            first, self._first = self._first, None
            consumed += len(first)
            yield first, self.info.sample_rate
        try:
            for chunk, rate in self._more_chunks():
                consumed += len(chunk)
                yield chunk, rate
        except Exception as exc:  # any decoder failure past the first block
            yield from self._recover(exc, consumed)

    def _more_chunks(self) -> Iterator[tuple[np.ndarray, int]]:
        raise NotImplementedError

    def _recover(self, exc: Exception, consumed: int) -> Iterator[tuple[np.ndarray, int]]:
        """Decoding failed after ``consumed`` samples: by default keep what was decoded (like a player)."""
        log.warning(
            "%s: decoding stopped early, keeping the audio before the damage (%s)", self.path, _short(exc)
        )
        return iter(())

    def estimated_output_samples(self, sample_rate: int) -> int | None:
        if self.info.duration_s is None:
            return None
        return math.ceil(self.info.duration_s * sample_rate)

    def close(self) -> None:
        raise NotImplementedError


def _plausible(path: str, info: AudioInfo) -> AudioInfo:
    """The header's duration, unless the file is too small to hold that much audio: a damaged header
    claims hours, or years, for a file of kilobytes, and load_audio would reserve memory for all of it.
    Then the duration is unknown (None) and counted by decoding."""
    duration = info.duration_s
    if duration is None:
        return info
    try:
        size = os.stat(path).st_size
    except OSError:
        size = None
    plausible = size is None or duration * _MIN_BYTES_PER_SECOND <= size
    if math.isfinite(duration) and duration > 0 and plausible:
        return info
    log.info("%s: the header's duration (%s s) cannot be right for %s bytes; ignored", path, duration, size)
    return dataclasses.replace(info, duration_s=None)


class _SoundfileDecoder(_Decoder):
    def __init__(self, path: str, f: sf.SoundFile, first: np.ndarray):
        self._file = f
        info = AudioInfo(
            duration_s=f.frames / f.samplerate if f.frames > 0 else None,
            sample_rate=int(f.samplerate),
            channels=int(f.channels),
            codec=_sf_codec_name(f.format, f.subtype),
            container=f.format.lower(),
        )
        super().__init__(path, info, first)

    @classmethod
    def open(cls, path: str) -> _SoundfileDecoder:
        # bytes on POSIX: soundfile encodes str paths strictly, which fails on undecodable file names.
        f = sf.SoundFile(path if os.name == "nt" else os.fsencode(path))
        try:
            first = _sf_read_mono(f)
            if first.size == 0:
                raise _NoSamples("no audio samples")
        except BaseException:
            f.close()
            raise
        return cls(path, f, first)

    def seekable(self) -> bool:
        return bool(self._file.seekable()) and self._file.frames > 0

    def excerpt(self, sample_rate: int, n_out: int, a: int, b: int) -> np.ndarray:
        """Output samples ``[a, b)`` of a track ``n_out`` samples long at ``sample_rate``, read by seeking.

        The read starts on a sample where the source and output grids meet (every 441 source samples for
        44.1 kHz -> 16 kHz), so the resampled output lands on the whole-file decode's sample times; the
        margin either side keeps the one-shot resampler's edges out of the samples returned. At the
        track's two ends the read starts or stops where the whole-file decode does, so it matches there too.
        """
        src = self.info.sample_rate
        grid = math.gcd(src, sample_rate)
        src_step, out_step = src // grid, sample_rate // grid
        margin = math.ceil(_EXCERPT_MARGIN_S * sample_rate)
        a0 = max(0, a - margin) // out_step * out_step
        b0 = -(-min(n_out, b + margin) // out_step) * out_step
        s0 = a0 // out_step * src_step
        s1 = min(self._file.frames, b0 // out_step * src_step)
        piece = np.zeros(b - a, dtype=np.float32)
        if s1 <= s0:
            return piece
        self._file.seek(s0)
        data = self._file.read(s1 - s0, dtype="float32", always_2d=True)
        mono = _downmix(data)
        out = mono if src == sample_rate else soxr.resample(mono, src, sample_rate, quality="HQ")
        lo, hi = max(a, a0), min(b, a0 + len(out), n_out)
        if lo < hi:
            piece[lo - a : hi - a] = out[lo - a0 : hi - a0]
        return piece

    def _more_chunks(self) -> Iterator[tuple[np.ndarray, int]]:
        rate = self.info.sample_rate
        while True:
            mono = _sf_read_mono(self._file)
            if mono.size == 0:
                return
            yield mono, rate

    def _recover(self, exc: Exception, consumed: int) -> Iterator[tuple[np.ndarray, int]]:
        """libsndfile gave up part-way. It does so on some valid files that FFmpeg decodes (an Opus file
        with a large cover picture, for one), so continue with FFmpeg from the same sample: decode from
        the start and drop what was already delivered (sample-exact; seeking would not be)."""
        log.info(
            "%s: libsndfile failed after %d samples (%s); continuing with FFmpeg", self.path, consumed, exc
        )
        try:
            ffmpeg = _PyAVDecoder.open(self.path)
        except Exception as exc2:
            yield from super()._recover(exc2, consumed)
            return
        try:
            skip = consumed
            for chunk, rate in ffmpeg.chunks():
                if rate != self.info.sample_rate:
                    yield from super()._recover(exc, consumed)
                    return
                if skip >= len(chunk):
                    skip -= len(chunk)
                    continue
                yield chunk[skip:], rate
                skip = 0
            if skip:
                log.warning(
                    "%s: decoding stopped early, keeping the audio before the damage (%s)", self.path, exc
                )
        finally:
            ffmpeg.close()

    def close(self) -> None:
        self._file.close()


def _sf_read_mono(f: sf.SoundFile) -> np.ndarray:
    return _downmix(f.read(_SF_BLOCK_FRAMES, dtype="float32", always_2d=True))


def _downmix(data: np.ndarray) -> np.ndarray:
    """(frames, channels) float32 -> the mean of the channels, one column at a time: numpy's mean over
    the short last axis is a strided reduction, 8x slower (2.3 s of a 16-track batch tag), and for stereo
    gives the same bits."""
    channels = data.shape[1]
    if channels == 1:
        return np.ascontiguousarray(data[:, 0])
    total = data[:, 0] + data[:, 1]
    for channel in range(2, channels):
        total += data[:, channel]
    return total / np.float32(channels)


_SF_CODECS = {
    "PCM_S8": "pcm_s8",
    "PCM_U8": "pcm_u8",
    "PCM_16": "pcm_s16",
    "PCM_24": "pcm_s24",
    "PCM_32": "pcm_s32",
    "FLOAT": "pcm_f32",
    "DOUBLE": "pcm_f64",
    "ULAW": "pcm_mulaw",
    "ALAW": "pcm_alaw",
    "VORBIS": "vorbis",
    "OPUS": "opus",
    "MPEG_LAYER_I": "mp1",
    "MPEG_LAYER_II": "mp2",
    "MPEG_LAYER_III": "mp3",
}


def _sf_codec_name(fmt: str, subtype: str) -> str:
    if fmt == "FLAC":
        return "flac"  # libsndfile reports FLAC's sample width (PCM_16/PCM_24) as the subtype
    return _SF_CODECS.get(subtype, subtype.lower())


class _PyAVDecoder(_Decoder):
    def __init__(self, path: str, container, stream, packets, first: np.ndarray, first_rate: int, channels):
        self._container = container
        self._stream = stream
        self._packets = packets
        self._bad_in_a_row = 0
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        fmt = container.format.name
        info = AudioInfo(
            duration_s=duration if duration is not None and duration > 0 else None,
            sample_rate=int(first_rate),
            channels=int(channels),
            codec=_AV_CODECS.get(stream.codec_context.name, stream.codec_context.name),
            container=_AV_CONTAINERS.get(fmt, fmt.split(",")[0]),
        )
        super().__init__(path, info, first)

    @classmethod
    def open(cls, path: str) -> _PyAVDecoder:
        container = open_av(path)
        try:
            stream = container.streams.best("audio")
            if stream is None:
                raise _NoAudioStream("no audio stream")
            packets = container.demux(stream)
            frames: list[av.AudioFrame] = []
            bad = 0
            last_error: Exception | None = None
            for i, packet in enumerate(packets):
                try:
                    frames = [f for f in packet.decode() if f.samples > 0]
                except av.FFmpegError as exc:
                    bad += 1
                    last_error = exc
                    if bad > _MAX_CONSECUTIVE_BAD_PACKETS:
                        break
                    continue
                if frames or i >= _MAX_PRIMING_PACKETS:
                    break
            if not frames:
                raise _NoSamples(
                    f"no audio could be decoded ({_short(last_error)})" if last_error else "no audio samples"
                )
            first = np.concatenate([_frame_to_mono(f) for f in frames])
            rate = frames[0].sample_rate
            channels = frames[0].layout.nb_channels
        except BaseException:
            container.close()
            raise
        return cls(path, container, stream, packets, first, rate, channels)

    def _more_chunks(self) -> Iterator[tuple[np.ndarray, int]]:
        for packet in self._packets:
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:
                self._bad_in_a_row += 1
                if self._bad_in_a_row > _MAX_CONSECUTIVE_BAD_PACKETS:
                    raise
                log.debug("%s: skipping an undecodable packet (%s)", self.path, exc)
                continue
            self._bad_in_a_row = 0
            for frame in frames:
                if frame.samples > 0:
                    yield _frame_to_mono(frame), frame.sample_rate

    def close(self) -> None:
        self._container.close()


_AV_CODECS = {"mp3float": "mp3", "mp2float": "mp2", "mp1float": "mp1"}
_AV_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "mp4", "matroska,webm": "matroska"}

_INT_SCALE = {
    np.dtype(np.int16): 1.0 / (1 << 15),
    np.dtype(np.int32): 1.0 / (1 << 31),
    np.dtype(np.int64): 1.0 / (1 << 63),
}


def _frame_to_mono(frame: av.AudioFrame) -> np.ndarray:
    """One decoded frame as float32 mono: the integer formats scaled like FFmpeg/libsndfile (x / 2^(bits-1)),
    then the mean of the channels."""
    arr = frame.to_ndarray()
    channels = frame.layout.nb_channels
    if not frame.format.is_planar:
        arr = arr.reshape(-1, channels).T  # packed (1, n*ch) -> (ch, n)
    if arr.dtype == np.uint8:
        arr = (arr.astype(np.float32) - 128.0) * np.float32(1.0 / 128)
    elif arr.dtype in _INT_SCALE:
        arr = arr.astype(np.float32) * np.float32(_INT_SCALE[arr.dtype])
    else:
        arr = arr.astype(np.float32, copy=False)
    if channels == 1:
        return np.ascontiguousarray(arr[0])
    return arr.mean(axis=0, dtype=np.float32)


# --------------------------------------------------------------------------------------------------
# Opening, with errors a user understands
# --------------------------------------------------------------------------------------------------


class _NoSamples(Exception):
    pass


class _NoAudioStream(Exception):
    pass


class _ImplausibleRate(Exception):
    def __init__(self, rate: int):
        super().__init__(f"its header gives a sample rate of {rate} Hz")


def _open_decoder(path: str | os.PathLike[str]) -> _Decoder:
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    head = _check_readable(path)

    openers = (("libsndfile", _SoundfileDecoder.open), ("ffmpeg", _PyAVDecoder.open))
    if _sniff_container(head) is None:
        # First bytes that announce no container: FFmpeg alone. libsndfile's MP3 decoder (mpg123) searches
        # 64 KB of them for a frame and prints its giving-up on the process's stderr, a line no user can tie
        # to a file; the formats of a music library that libsndfile reads all start with a magic number.
        openers = openers[1:]
    failures: list[tuple[str, Exception]] = []
    for name, opener in openers:
        try:
            decoder = opener(path)
        except Exception as exc:  # a decoder's failure is a verdict on the file, try the next
            failures.append((name, exc))
            continue
        if decoder.info.sample_rate < _MIN_SAMPLE_RATE:
            # A damaged header (a WAV saying 1 Hz): resampled to 16 kHz, 2 s of data would become a day of
            # audio and gigabytes of memory. No real recording has such a rate.
            decoder.close()
            failures.append((name, _ImplausibleRate(decoder.info.sample_rate)))
            continue
        return decoder
    raise AudioLoadError(path, _explain(head, failures))


def _check_readable(path: str) -> bytes:
    """Open the file ourselves first: missing, directory, permission and empty get plain words.
    Returns the first bytes, to tell text from damaged audio later."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise AudioLoadError(path, "file not found") from None
    except PermissionError:
        raise AudioLoadError(path, "permission denied") from None
    except OSError as exc:
        raise AudioLoadError(path, f"cannot read file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioLoadError(path, "is a directory, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        raise AudioLoadError(path, "not a regular file")
    if st.st_size == 0:
        raise AudioLoadError(path, "file is empty")
    try:
        with open(path, "rb") as fh:
            return fh.read(4096)
    except PermissionError:
        raise AudioLoadError(path, "permission denied") from None
    except OSError as exc:
        raise AudioLoadError(path, f"cannot read file: {exc.strerror or exc}") from None


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\0" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # only a character cut at the end of the sample is fine
            return False
        text = head[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\r\n\t\f" for ch in text)
    return printable >= 0.95 * len(text)


def _sniff_container(head: bytes) -> str | None:
    """The container a file's first bytes announce, if it is a common audio one."""
    if head[4:8] == b"ftyp":
        return "MP4/M4A"
    if head.startswith(b"ID3"):
        return "MP3 (ID3-tagged)"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "MPEG audio"
    for magic, kind in (
        (b"fLaC", "FLAC"),
        (b"OggS", "Ogg"),
        (b"RIFF", "WAV"),
        (b"RF64", "WAV"),
        (b"FORM", "AIFF"),
        (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "WMA/ASF"),
        (b"wvpk", "WavPack"),
        (b"MAC ", "APE"),
        (b"caff", "CAF"),
        (b"\x1a\x45\xdf\xa3", "Matroska"),
    ):
        if head.startswith(magic):
            return kind
    return None


def _explain(head: bytes, failures: list[tuple[str, Exception]]) -> str:
    """One short cause for a file neither decoder could get a sample out of. (Readability was checked
    before, so a decoder's OSError here is about the data: FFmpeg's ASF demuxer answers EPERM to a
    truncated header, for one.)"""
    if _looks_like_text(head):
        return "not an audio file (it is text)"
    errors = dict(failures)
    rates = [exc for exc in errors.values() if isinstance(exc, _ImplausibleRate)]
    if rates:
        return f"corrupt: {rates[0]}"
    ff = errors.get("ffmpeg")
    if isinstance(ff, _NoAudioStream):
        return "not an audio file (no audio stream)"
    if isinstance(ff, _NoSamples) or isinstance(errors.get("libsndfile"), _NoSamples):
        detail = str(ff) if isinstance(ff, _NoSamples) else "no audio samples"
        return f"truncated or corrupt: {detail}"
    if isinstance(ff, av.EOFError):
        return "truncated or corrupt: the file ends before any audio"
    kind = _sniff_container(head)
    if kind:  # starts like audio but no decoder gets anywhere: cut short (an M4A's index is at its end)
        return f"truncated or corrupt: {kind} file whose audio cannot be read"
    if ff is None or isinstance(ff, av.InvalidDataError):
        return "not an audio file (format not recognised)"
    return f"not an audio file, or a corrupt one ({_short(ff)})"


def _short(exc: Exception) -> str:
    if isinstance(exc, av.FFmpegError):
        return exc.strerror or type(exc).__name__
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


# --------------------------------------------------------------------------------------------------
# Streaming resampler
# --------------------------------------------------------------------------------------------------


def _closing_blocks(decoder: _Decoder, sample_rate: int, block: int) -> Iterator[np.ndarray]:
    try:
        yield from _resampled_blocks(decoder, sample_rate, block)
    finally:
        decoder.close()


def _resampled_blocks(decoder: _Decoder, sample_rate: int, block: int) -> Iterator[np.ndarray]:
    """Resample the decoder's chunks to ``sample_rate`` and re-cut them into blocks of ``block`` samples."""
    pending: list[np.ndarray] = []
    n_pending = 0
    for piece in _resampled_pieces(decoder, sample_rate):
        pending.append(piece)
        n_pending += len(piece)
        while n_pending >= block:
            joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
            yield joined[:block].copy() if len(joined) > block else joined
            rest = joined[block:]
            pending = [rest] if len(rest) else []
            n_pending = len(rest)
    if n_pending:
        yield np.concatenate(pending) if len(pending) > 1 else pending[0]


# Output samples held back until the end of a segment, so its length can be trimmed to the exact
# ceil(n_in * ratio) (the streaming resampler's total may differ by a sample or two).
_HOLD_BACK = 64


def _resampled_pieces(decoder: _Decoder, sample_rate: int) -> Iterator[np.ndarray]:
    """Mono chunks at ``sample_rate``. A change of source rate mid-file (rare: chained streams) starts a
    new resampler segment."""
    rate: int | None = None
    resampler: soxr.ResampleStream | None = None
    n_in = n_out = 0
    tail = np.zeros(0, dtype=np.float32)

    def finish() -> Iterator[np.ndarray]:
        nonlocal tail
        out = tail
        if resampler is not None:
            out = np.concatenate([tail, resampler.resample_chunk(np.zeros(0, np.float32), last=True)])
        want = -(-n_in * sample_rate // rate) - (n_out - len(tail))  # ceil(n_in * ratio) minus already sent
        if len(out) > want:
            out = out[: max(want, 0)]
        elif len(out) < want:
            out = np.concatenate([out, np.zeros(want - len(out), np.float32)])
        tail = np.zeros(0, dtype=np.float32)
        if len(out):
            yield out

    for chunk, chunk_rate in decoder.chunks():
        if chunk_rate != rate:
            if rate is not None:
                yield from finish()
            rate = chunk_rate
            resampler = (
                None
                if rate == sample_rate
                else soxr.ResampleStream(rate, sample_rate, 1, dtype="float32", quality="HQ")
            )
            n_in = n_out = 0
        n_in += len(chunk)
        out = chunk if resampler is None else resampler.resample_chunk(chunk, last=False)
        n_out += len(out)
        if len(out) == 0:
            continue
        out = np.concatenate([tail, out]) if len(tail) else out
        if len(out) > _HOLD_BACK:
            yield out[:-_HOLD_BACK]
            tail = out[-_HOLD_BACK:].copy()
        else:
            tail = out
    if rate is not None:
        yield from finish()
