"""musicnn's input features in PyTorch: the log-compressed mel spectrogram of 16 kHz mono audio.

The original musicnn front end (the model's training input) is, in librosa terms::

    y, _ = librosa.load(path, sr=16000)
    S = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96).T
    x = np.log10(10000 * S + 1).astype(np.float32)

:class:`LogMelSpectrogram` reproduces that with ``torchaudio.transforms.MelSpectrogram`` to about 1e-5 max
abs on real music (float32 FFT rounding), on CPU or GPU. Every default below is the value librosa used
implicitly; each one matters, and getting any of them wrong still gives a plausible-looking spectrogram.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
import torchaudio

__all__ = ["LOG_COMPRESSION", "MUSICNN_MEL", "LogMelSpectrogram"]

# The keys of a model card's "mel" section, i.e. the constructor's settings besides sample_rate.
_SETTINGS = (
    "n_fft",
    "hop_length",
    "n_mels",
    "f_min",
    "f_max",
    "mel_scale",
    "norm",
    "power",
    "center",
    "pad_mode",
)

#: The compression applied to the mel power, as model cards spell it.
LOG_COMPRESSION = "log10(10000*x+1)"

#: musicnn's front end as a model card's "mel" section: every net trained here uses it, so the Analyzer
#: computes one log-mel for the shipped taggers and the user's models alike.
MUSICNN_MEL = {
    "n_fft": 512,
    "hop_length": 256,
    "n_mels": 96,
    "f_min": 0.0,
    "f_max": 8000.0,
    "mel_scale": "slaney",
    "norm": "slaney",
    "power": 2.0,
    "center": True,
    "pad_mode": "constant",
    "log": LOG_COMPRESSION,
}

# torch's names for the pad modes librosa accepts (numpy.pad names).
_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "replicate": "replicate"}


class LogMelSpectrogram(torch.nn.Module):
    """``log10(10000 * mel_power + 1)`` of a waveform, time first: ``(frames, n_mels)``.

    Defaults are musicnn's. Buffers (the Hann window and the mel filterbank) move with ``.to(device)``.
    """

    def __init__(
        self,
        *,
        # musicnn resamples everything to 16 kHz; the filterbank is built for this rate.
        sample_rate: int = 16000,
        # 512-point FFT = 32 ms window at 16 kHz; win_length defaults to n_fft (librosa and torchaudio
        # agree) and the window is a periodic Hann in both (torch.hann_window / scipy "hann", fftbins).
        n_fft: int = 512,
        # 256 samples = 16 ms hop, 62.5 frames/s, so a 187-frame musicnn patch is ~3 s.
        hop_length: int = 256,
        n_mels: int = 96,
        # librosa.filters.mel defaults: fmin 0 and fmax sr/2. torchaudio's f_max default is also sr/2, but
        # say it so a different sample_rate does not silently move the top band.
        f_min: float = 0.0,
        f_max: float | None = 8000.0,
        # librosa's default mel scale is Slaney's (htk=False): linear below 1 kHz, log above. torchaudio
        # defaults to "htk", which puts every band in a different place.
        mel_scale: str = "slaney",
        # librosa's default norm="slaney" divides each triangle by its width (equal area). torchaudio's
        # default is no norm (peak 1), off by a per-band factor that the log does not remove.
        norm: str | None = "slaney",
        # librosa.feature.melspectrogram's power=2.0: power spectrogram, not magnitude.
        power: float = 2.0,
        # Frames are centred: frame t covers samples [t*hop - n_fft/2, t*hop + n_fft/2), so there are
        # 1 + n // hop frames and both ends are padded by n_fft/2.
        center: bool = True,
        # librosa >= 0.10 pads those ends with zeros ("constant"); older librosa and torchaudio's default
        # use "reflect". The reference patches (shared/reference/musicnn) match "constant" to 5e-7 in the
        # first frame and "reflect" only to 1.2, so they were made with zero padding.
        pad_mode: str = "constant",
    ):
        super().__init__()
        if pad_mode not in _PAD_MODES:
            raise ValueError(f"pad_mode must be one of {sorted(_PAD_MODES)}, not {pad_mode!r}")
        self.sample_rate = int(sample_rate)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.n_mels = int(n_mels)
        self.center = bool(center)
        self.pad_mode = pad_mode
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=self.sample_rate,
            n_fft=self.n_fft,
            win_length=self.n_fft,
            hop_length=self.hop_length,
            f_min=float(f_min),
            f_max=None if f_max is None else float(f_max),
            n_mels=self.n_mels,
            window_fn=torch.hann_window,
            power=float(power),
            normalized=False,
            center=self.center,
            pad_mode=_PAD_MODES[pad_mode],
            norm=norm,
            mel_scale=mel_scale,
        )

    @classmethod
    def from_settings(cls, mel: dict[str, Any], sample_rate: int) -> LogMelSpectrogram:
        """Build from a model card's ``mel`` section: keys ``n_fft, hop_length, n_mels, f_min, f_max,
        mel_scale, norm, power, center, pad_mode`` (missing keys take musicnn's values; unknown keys are
        an error, so a typo in a card does not silently fall back to a default). An optional ``log`` key
        must name musicnn's compression, ``"log10(10000*x+1)"``."""
        mel = dict(mel)
        log = mel.pop("log", LOG_COMPRESSION)  # a card may name the compression: only musicnn's is built in
        if log != LOG_COMPRESSION:
            raise ValueError(f"unsupported log compression {log!r} (this module computes {LOG_COMPRESSION})")
        unknown = set(mel) - set(_SETTINGS)
        if unknown:
            raise ValueError(f"unknown mel settings: {sorted(unknown)}")
        return cls(sample_rate=sample_rate, **mel)

    @staticmethod
    def _log(mel_power: torch.Tensor) -> torch.Tensor:
        # musicnn's compression. Taken in float32: musicnn's own extractor used float16, which overflows.
        return torch.log10(10000.0 * mel_power + 1.0)

    def forward(self, waveform: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``(samples,)`` -> ``(frames, n_mels)``; ``(batch, samples)`` -> ``(batch, frames, n_mels)``.

        The input is cast to float32 (the filterbank's dtype) and must be on the module's device (numpy
        input is moved there); the output is float32.
        """
        if not isinstance(waveform, torch.Tensor):
            waveform = torch.as_tensor(waveform, device=self.mel.spectrogram.window.device)
        if waveform.dim() not in (1, 2):
            raise ValueError(f"expected (samples,) or (batch, samples), got shape {tuple(waveform.shape)}")
        if waveform.shape[-1] == 0:
            raise ValueError("empty waveform")
        mel_power = self.mel(waveform.to(torch.float32))  # (..., n_mels, frames)
        return self._log(mel_power).transpose(-1, -2).contiguous()

    def num_frames(self, n_samples: int) -> int:
        """How many frames ``forward`` returns for ``n_samples`` samples."""
        if self.center:
            return 1 + n_samples // self.hop_length
        return 0 if n_samples < self.n_fft else 1 + (n_samples - self.n_fft) // self.hop_length

    def stream(self, blocks: Iterable[torch.Tensor | np.ndarray]) -> Iterator[torch.Tensor]:
        """Log-mel of a long 1-D signal given in consecutive pieces, e.g. the numpy blocks of
        ``musictagger.audio.iter_audio_blocks``, without holding the whole signal.

        Yields ``(frames, n_mels)`` tensors (on the module's device) whose concatenation equals
        ``forward(whole signal)`` to float rounding: a frame is computed once all the samples it needs
        have arrived, and the centre padding is applied at the true start and end only, so block
        boundaries leave no trace. Blocks may have any length, shorter than the FFT included.
        """
        device = self.mel.spectrogram.window.device
        half = self.n_fft // 2 if self.center else 0
        # reflect/replicate padding of the start needs the first half + 1 samples; zeros need none
        needs_context = half > 0 and self.pad_mode != "constant"
        buf: torch.Tensor | None = None  # samples not yet framed (with the left padding once started)
        last = torch.zeros(0, device=device)  # the last half + 1 real samples, for the right padding
        started = False
        for block in blocks:
            x = torch.as_tensor(block).to(device=device, dtype=torch.float32).reshape(-1)
            if x.numel() == 0:
                continue
            buf = x if buf is None else torch.cat([buf, x])
            if half:
                last = torch.cat([last, x])[-(half + 1) :]
            if not started:
                if needs_context and buf.numel() <= half:
                    continue
                if half:
                    buf = torch.cat([self._edge_pad(buf, half, left=True), buf])
                started = True
            n = self._complete_frames(buf.numel())
            if n:
                yield self._frames(buf[: (n - 1) * self.hop_length + self.n_fft])
                buf = buf[n * self.hop_length :]
        if buf is None:
            return
        if not started:  # the whole signal is shorter than the start padding needs
            if self.pad_mode == "reflect":
                raise ValueError(f"reflect padding needs more than {half} samples, got {buf.numel()}")
            buf = torch.cat([self._edge_pad(buf, half, left=True), buf])
        if half:
            buf = torch.cat([buf, self._edge_pad(last, half, left=False)])
        n = self._complete_frames(buf.numel())
        if n:
            yield self._frames(buf[: (n - 1) * self.hop_length + self.n_fft])

    def _complete_frames(self, n_samples: int) -> int:
        return 0 if n_samples < self.n_fft else 1 + (n_samples - self.n_fft) // self.hop_length

    def _edge_pad(self, x: torch.Tensor, half: int, *, left: bool) -> torch.Tensor:
        """The ``half`` samples that ``center=True`` padding puts before (``left``) or after ``x``."""
        mode = _PAD_MODES[self.pad_mode]
        if mode == "constant":
            return x.new_zeros(half)
        piece = x[: half + 1] if left else x[-(half + 1) :]
        pad = (half, 0) if left else (0, half)
        padded = torch.nn.functional.pad(piece[None, None], pad, mode=mode)[0, 0]
        return padded[:half] if left else padded[-half:]

    def _frames(self, x: torch.Tensor) -> torch.Tensor:
        """Un-padded frames of ``x`` (length (k-1)*hop + n_fft) -> (k, n_mels)."""
        spec = torchaudio.functional.spectrogram(
            x,
            pad=0,
            window=self.mel.spectrogram.window,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.n_fft,
            power=self.mel.spectrogram.power,
            normalized=False,
            center=False,
        )
        return self._log(self.mel.mel_scale(spec)).transpose(-1, -2).contiguous()
