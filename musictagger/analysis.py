"""From audio to scores: load models once, cut a track into patches, batch them, run them on a device.

A track is decoded once per sample rate its models need. The log-mel front end is a torch module on the
model's device and runs per batch of patches, so memory stays bounded by the batch, not the track: a
2-hour mix never has its whole spectrogram on the GPU at once.

Tempo and key are a stage of the same pass (``tempo_key.TempoKeyStage``, when the Analyzer is given
one): it reads the signal already decoded for the first front end, so no track is decoded twice. A track
whose tagger analyses are current but whose tempo and key are not gets the stage alone
(``analyse_tempo_key_files``: decode, tempo, key; no network runs).

Library mode (``patch_budget``: scan and batch tag) analyses a fixed number of the track's patches spread
over its length (``sampling.spread_patches``) and decodes only those (``audio.load_excerpts``); the mean
over them feeds scores, heads, energy and embeddings as the mean over every patch does in a full analysis.
A track with no more patches than the budget is analysed in full. ``TrackAnalysis.sampled`` says which.
The same decode reads one contiguous stretch in the middle of the track for the tempo estimate.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import torch

from musictagger.audio import Excerpts, load_audio, load_excerpts
from musictagger.catalog import TAGGER_ARCHITECTURES, ModelCard, available_models, load_model
from musictagger.device import (
    describe_device,
    describe_precision,
    resolve_device,
    resolve_library_int8,
    resolve_precision,
)
from musictagger.errors import FileError, ModelError, MusictaggerError
from musictagger.heads.model import (
    EmbeddingHead,
    HeadCard,
    HeadScores,
    available_heads,
    head_input,
    load_head,
)
from musictagger.heads.model import predict as head_predict
from musictagger.memory import tune_allocator
from musictagger.nets.musicnn import Musicnn
from musictagger.nets.musicnn_int8 import Int8Musicnn
from musictagger.sampling import closer_look_patches, spread_patches
from musictagger.signal_checks import untaggable_reason
from musictagger.spectrogram import LogMelSpectrogram
from musictagger.tempo_key import PendingTempoKey, TempoKey, TempoKeyStage

# Called with (first frame index, log-mel frames of that chunk) as a track is analysed, so a viewer can
# draw the spectrogram progressively. Returning True asks the analysis to stop (cancel).
ChunkCallback = Callable[[int, np.ndarray], bool | None]


class AnalysisCancelled(MusictaggerError):
    """The caller asked to stop while a track was being analysed."""


class AnalysisError(FileError):
    """Something unexpected broke while analysing one file; reported for that file, the batch goes on."""


class NothingToTag(FileError):
    """The file decodes, but holds nothing a genre or mood can be heard in (shorter than one patch, or
    silent): reported for that file with no analysis, so nothing is stored or written for it."""


@dataclass(frozen=True)
class SampledExcerpts(Excerpts):
    """Library mode's excerpts at the tempo/key stage's rate, with the contiguous stretch that the tempo
    estimate reads (decoded in the same pass as the patches)."""

    tempo_window: np.ndarray | None = None


def _with_tempo_window(
    choose: Callable[[int], Sequence[tuple[int, int]] | None], n_samples: int
) -> list[tuple[int, int]] | None:
    """The patches ``choose`` picks, then one stretch as long as all of them together, in the middle of
    the track (the whole track when shorter)."""
    ranges = choose(n_samples)
    if ranges is None:
        return None
    length = min(n_samples, sum(stop - start for start, stop in ranges))
    start = (n_samples - length) // 2
    return [*ranges, (start, start + length)]


@dataclass(frozen=True)
class ModelScores:
    """What one model heard in one track."""

    model: str
    labels: tuple[str, ...]
    scores: np.ndarray  # (n_labels,) track-level: mean of the patch probabilities
    taggram: np.ndarray  # (n_patches, n_labels) probability per patch
    embedding: np.ndarray  # (embedding_dim,) mean of the patches' penultimate features
    # Library mode: each patch's penultimate features (the rows ``embedding`` is the mean of), for the
    # leave-one-out estimates of TrackAnalysis.leave_one_out; None for a full analysis.
    patch_embeddings: np.ndarray | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, float]:
        return {label: float(score) for label, score in zip(self.labels, self.scores, strict=True)}


@dataclass(frozen=True)
class TrackAnalysis:
    """The result of analysing one track with one or more models."""

    path: str
    duration_s: float
    sample_rate: int
    patch_seconds: float
    patch_starts_s: np.ndarray  # (n_patches,) start time of each taggram row (not consecutive if sampled)
    models: dict[str, ModelScores]
    frame_seconds: float
    spectrogram: np.ndarray | None = field(default=None, repr=False)  # (frames, n_mels) if kept
    heads: dict[str, HeadScores] = field(default_factory=dict)  # {head name: its label probabilities}
    tempo_key: TempoKey | None = None  # None when the Analyzer runs no tempo/key stage
    # Library mode: the taggram holds only the sampled patches (at ``patch_starts_s``), not every patch.
    sampled: bool = False
    # Library mode's int8 networks made the scores (nets/musicnn_int8.py): close to the full analysis's,
    # not equal. Like ``sampled``, a full run (``tag --full``, the track view) redoes such an analysis.
    quantized: bool = False
    # Library mode: label_scores() of this analysis with each sampled patch left out in turn (a jackknife):
    # how far the choice of patches moves each score (services.analysis.near_a_threshold reads it).
    leave_one_out: tuple[dict[str, dict[str, float]], ...] = field(default=(), repr=False, compare=False)

    @property
    def n_patches_in_track(self) -> int:
        """How many patches the whole track has (the full analysis' taggram rows)."""
        return max(1, int(self.duration_s / self.patch_seconds + 1e-6))

    @property
    def is_full(self) -> bool:
        """Whether this is the full analysis: every patch, the networks as the parity check runs them."""
        return not (self.sampled or self.quantized)

    def raw_tags(self) -> dict[str, dict[str, float]]:
        """``{model: {raw tag: probability}}``: every tag of every model."""
        return {name: scores.as_dict() for name, scores in self.models.items()}

    def head_scores(self) -> dict[str, dict[str, float]]:
        """``{head: {label: probability}}`` for every head that ran."""
        return {name: scores.as_dict() for name, scores in self.heads.items()}

    def label_scores(self) -> dict[str, dict[str, float]]:
        """What the vocabulary maps to labels: every tagger's raw tags and every classifying head's
        probabilities, by model or head name (``Vocabulary.canonical_scores``)."""
        found = self.raw_tags()
        found.update(
            (name, scores.as_dict()) for name, scores in self.heads.items() if scores.task != "regression"
        )
        return found

    def dimensions(self) -> dict[str, float]:
        """Continuous descriptions from regression heads, e.g. ``{"energy": 6.3, "valence": -0.2}``."""
        found: dict[str, float] = {}
        for scores in self.heads.values():
            if scores.task == "regression":
                found.update(scores.as_dict())
        return found


@dataclass(frozen=True)
class AnalysisResult:
    """One entry of a batch: the analysis, or the error that stopped it for this file."""

    path: str
    analysis: TrackAnalysis | None = None
    error: MusictaggerError | None = None


@dataclass(frozen=True)
class TempoKeyResult:
    """One entry of a tempo/key-only batch: the estimate, or the error that stopped it for this file."""

    path: str
    tempo_key: TempoKey | None = None
    error: MusictaggerError | None = None


class _FrontEndGroup:
    """Models that share one front end (sample rate, mel settings and patch length) and so one input."""

    def __init__(self, card: ModelCard, device: torch.device):
        mel = dict(card.mel)
        self.sample_rate = int(card.sample_rate)
        self.n_fft = int(mel["n_fft"])
        self.hop = int(mel["hop_length"])
        self.center = bool(mel.get("center", True))
        self.pad_mode = str(mel.get("pad_mode", "constant"))
        self.patch_frames = int(card.patch_frames)
        # Patches are taken from chunks of one long signal. Framing a chunk with center=True would pad
        # each chunk's edges; instead each chunk is cut from the signal as center=True would have padded
        # it (see ``piece``) and framed without padding, so chunked frames equal whole-track frames.
        try:
            frontend = LogMelSpectrogram.from_settings({**mel, "center": False}, self.sample_rate)
        except ValueError as exc:
            raise ModelError(f"{card.name}: {exc}") from exc
        self.frontend = frontend.to(device)
        self.frontend.eval()
        self.models: list[tuple[str, torch.nn.Module, ModelCard]] = []

    def n_frames(self, n_samples: int) -> int:
        if self.center:
            return 1 + n_samples // self.hop
        return 0 if n_samples < self.n_fft else 1 + (n_samples - self.n_fft) // self.hop

    def n_patches(self, n_samples: int) -> int:
        """Patches of a full analysis of ``n_samples`` samples (a short track still gets one)."""
        return max(1, self.n_frames(n_samples) // self.patch_frames)

    @property
    def patch_geometry(self) -> tuple[int, int, int, bool]:
        """What fixes which samples a patch reads: groups that agree on it can share sampled excerpts."""
        return (self.hop, self.n_fft, self.patch_frames, self.center)

    def excerpt_ranges(
        self, n_samples: int, budget: int, done: frozenset[int] = frozenset(), closer: bool = False
    ) -> list[tuple[int, int]] | None:
        """Library mode: the sample range of each of ``budget`` patches spread over a track of
        ``n_samples`` samples (``closer``: the closer look's, sampling.closer_look_patches), each exactly
        what the full analysis frames for that patch (center=True padding included: a range may start
        before 0), leaving out the patches ``done`` (indices); None when the track is analysed in full."""
        n_patches = self.n_patches(n_samples)
        chosen = (closer_look_patches if closer else spread_patches)(n_patches, budget)
        if chosen is None:
            if not done:
                return None
            chosen = np.arange(n_patches)  # every patch but those done (a whole decode would redo them)
        chosen = [k for k in dict.fromkeys(int(k) for k in chosen) if k not in done]
        half = self.n_fft // 2 if self.center else 0
        span = self.patch_frames * self.hop
        length = (self.patch_frames - 1) * self.hop + self.n_fft
        return [(int(k) * span - half, int(k) * span - half + length) for k in chosen]

    def excerpt_cores(self, excerpts: Excerpts) -> list[np.ndarray]:
        """The samples each sampled patch covers (its ``patch_frames * hop`` samples, without the framing
        margin): what hand-made features and the tempo/key stage read."""
        half = self.n_fft // 2 if self.center else 0
        span = self.patch_frames * self.hop
        return [piece[half : half + span] for piece in excerpts.pieces]

    def piece(self, waveform: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Samples ``[start, stop)`` of the signal as center=True pads it, without copying the whole track.

        A 2-hour mix is 460 MB at 16 kHz: padding it whole would double that. Only the chunks at the two
        ends touch the padding, so only they are padded.
        """
        half = self.n_fft // 2 if self.center else 0
        lo, hi, n = start - half, stop - half, len(waveform)
        if lo >= 0 and hi <= n:
            return waveform[lo:hi]
        index = np.arange(lo, hi)
        if self.pad_mode == "reflect" and n > 1:  # numpy/torch "reflect": mirror without repeating the edge
            index = np.abs(index)
            index = np.where(index >= n, 2 * (n - 1) - index, index)
            return waveform[np.clip(index, 0, n - 1)]
        piece = np.zeros(len(index), dtype=waveform.dtype)
        inside = (index >= 0) & (index < n)
        piece[inside] = waveform[index[inside]]
        return piece


def _front_end_key(card: ModelCard) -> tuple:
    mel = card.mel
    return (
        int(card.sample_rate),
        int(mel["n_fft"]),
        int(mel["hop_length"]),
        bool(mel.get("center", True)),
        str(mel.get("pad_mode", "constant")),
        int(card.patch_frames),
        tuple(sorted((k, str(v)) for k, v in mel.items())),
    )


class Analyzer:
    """Loads models once and analyses tracks with them.

    ``batch_size`` is in patches (3 s each for musicnn): it bounds memory on the device and sets how
    often a progress callback fires. By default 16 on a CPU, where musicnn's front-end feature maps take
    about 25 MB per patch (64 patches peak above 2 GB of RAM and run no faster), and 64 on a GPU.

    ``model_names`` defaults to every tagger (musicnn) in the model folders; a trained research model runs
    when named. ``heads`` defaults to every head whose input models are loaded; ``()`` runs none.
    ``tempo_key``: the tempo/key stage to run on every track (None: none; services.analysis.Models.load
    gives one from the settings).
    """

    def __init__(
        self,
        model_names: Sequence[str] | None = None,
        device: str = "auto",
        batch_size: int | None = None,
        heads: Sequence[str] | None = None,
        tempo_key: TempoKeyStage | None = None,
        refine: Callable[[TrackAnalysis], bool] | None = None,
        precision: str = "auto",
        library_precision: str = "auto",
    ):
        tune_allocator()  # each batch's activations reuse freed memory instead of faulting it in (memory.py)
        self.tempo_key = tempo_key
        if tempo_key is not None:
            tempo_key.warm_up()  # its process starts while the networks load
        # Library mode: given a sampled analysis, whether it is too close to call on so few patches
        # (services.analysis: a written label near its threshold); such a track gets a closer look
        # (``refined``).
        self.refine = refine
        self.device = resolve_device(device)
        # The taggers' networks autocast to this dtype (None: fp32); the log-mel front end, the heads and
        # the explanations always compute in fp32 (device.resolve_precision says when bf16 is used and why).
        self.autocast_dtype = resolve_precision(precision, self.device)
        self.device_name = f"{describe_device(self.device)}, {describe_precision(self.autocast_dtype)}"
        # Library mode's networks: int8 twins of the taggers where that pays (device.resolve_library_int8);
        # the full analysis and the explanations always run the networks above.
        self.library_int8 = resolve_library_int8(library_precision, self.device)
        # Library mode's batch runs this many tracks at once (_tracks_in_parallel says why): two on a CPU
        # of two cores or more; one on a GPU, which a bigger batch keeps busy instead.
        self.tracks_at_once = 2 if self.device.type == "cpu" and torch.get_num_threads() >= 2 else 1
        if batch_size is None:
            batch_size = 16 if self.device.type == "cpu" else 64
        self.batch_size = max(1, int(batch_size))
        names = list(model_names) if model_names else available_models(TAGGER_ARCHITECTURES)
        if not names:
            raise ModelError("no models found: the models/ folder holds no model card")
        self.cards: dict[str, ModelCard] = {}
        groups: dict[tuple, _FrontEndGroup] = {}
        for name in names:
            net, card = load_model(name, device=str(self.device))
            self.cards[name] = card
            key = _front_end_key(card)
            if key not in groups:
                groups[key] = _FrontEndGroup(card, self.device)
            groups[key].models.append((name, net, card))
        self._groups = list(groups.values())
        self._int8_nets: dict[str, torch.nn.Module] = {}
        if self.library_int8:
            self._int8_nets = {
                name: Int8Musicnn(net)
                for group in self._groups
                for name, net, _ in group.models
                if isinstance(net, Musicnn)
            }
        self.heads: dict[str, tuple[EmbeddingHead, HeadCard]] = {}
        self.load_heads(heads)

    def load_heads(self, heads: Sequence[str] | None = None) -> None:
        """(Re)load the heads: ``None`` = every head whose input models are loaded (a head saved since
        start-up included). The dict is swapped whole, so a track being analysed keeps a consistent set."""
        loaded: dict[str, tuple[EmbeddingHead, HeadCard]] = {}
        for head_name in available_heads() if heads is None else heads:
            head, head_card = load_head(head_name)
            missing = [m for m in head_card.inputs if m not in self.cards]
            if missing and heads is None:
                continue  # a default head whose taggers were not asked for: skip it quietly
            if missing:
                raise ModelError(
                    f"head {head_name!r} needs model(s) {', '.join(missing)}, which are not loaded"
                )
            loaded[head_card.name] = (head, head_card)
        self.heads = loaded

    @property
    def model_names(self) -> list[str]:
        return list(self.cards)

    def model(self, name: str) -> tuple[torch.nn.Module, ModelCard]:
        """The loaded network and card of one of this analyzer's models (explanations reuse them)."""
        for group in self._groups:
            for model_name, net, card in group.models:
                if model_name == name:
                    return net, card
        raise ModelError(f"{name!r} is not one of this analyzer's models ({', '.join(self.cards)})")

    @property
    def sample_rates(self) -> list[int]:
        return sorted({group.sample_rate for group in self._groups})

    def decode(self, path: str | os.PathLike) -> dict[int, np.ndarray]:
        """The track at every sample rate the models need (decoding is the slow, parallelisable part)."""
        return {rate: load_audio(path, sample_rate=rate) for rate in self.sample_rates}

    def decode_excerpts(
        self,
        path: str | os.PathLike,
        budget: int,
        *,
        tempo_window: bool = True,
        done: frozenset[int] = frozenset(),
        closer: bool = False,
    ) -> dict[int, np.ndarray | Excerpts]:
        """Library mode's decode: per sample rate, only the ``budget`` patches spread over the track
        (``Excerpts``), or the whole signal for a track no longer than the budget. Front ends that share a
        rate but frame patches differently (none shipped) get the whole signal: one set of excerpts
        cannot serve both. At the tempo/key rate the same decode also reads the stretch the tempo
        estimate needs (``SampledExcerpts.tempo_window``), unless ``tempo_window`` is False. ``done``: patches
        (indices) already analysed, not decoded again; ``closer``: the closer look's patches instead."""
        audio: dict[int, np.ndarray | Excerpts] = {}
        for rate in self.sample_rates:
            groups = [group for group in self._groups if group.sample_rate == rate]
            if len({group.patch_geometry for group in groups}) > 1:
                audio[rate] = load_audio(path, sample_rate=rate)
                continue
            choose = partial(groups[0].excerpt_ranges, budget=budget, done=done, closer=closer)
            if not tempo_window or self.tempo_key is None or rate != self.tempo_key_rate:
                audio[rate] = load_excerpts(path, rate, choose)
                continue
            decoded = load_excerpts(path, rate, partial(_with_tempo_window, choose))
            if isinstance(decoded, Excerpts):  # the last stretch is the tempo window
                decoded = SampledExcerpts(
                    decoded.n_samples, decoded.starts[:-1], decoded.pieces[:-1], decoded.pieces[-1]
                )
            audio[rate] = decoded
        return audio

    @property
    def tempo_key_rate(self) -> int:
        """The sample rate the tempo/key stage reads: the first front end's, decoded for it anyway."""
        return self._groups[0].sample_rate

    def decode_for_tempo_key(self, path: str | os.PathLike) -> np.ndarray:
        """The track at the rate the tempo/key stage reads, for a track that needs nothing else."""
        return load_audio(path, sample_rate=self.tempo_key_rate)

    def _start_tempo_key(self, signal: np.ndarray | Excerpts) -> PendingTempoKey | None:
        if self.tempo_key is None:
            return None
        if isinstance(signal, Excerpts):
            # Library mode: the key from the sampled patches joined end to end (a key is heard all over
            # the track), the tempo from one contiguous stretch of as many seconds in its middle (joins
            # every 3 s break the beat's period). bench/bench_library_tempo_key.py, 13 long tracks
            # against the whole track: tempo within 4 % 10/13 joined, 12/13 middle; same key 11/13
            # joined, 9/13 middle.
            joined = np.concatenate(self._groups[0].excerpt_cores(signal))
            window = signal.tempo_window if isinstance(signal, SampledExcerpts) else None
            return self.tempo_key.start(joined if window is None else window, self.tempo_key_rate, joined)
        return self.tempo_key.start(signal, self.tempo_key_rate)

    def tempo_key_of(self, signal: np.ndarray) -> TempoKey | None:
        """The tempo/key stage on a decoded signal (at ``tempo_key_rate``); None when there is no stage."""
        if self.tempo_key is None:
            return None
        return self.tempo_key.process(signal, self.tempo_key_rate)

    def analyse_file(
        self,
        path: str | os.PathLike,
        *,
        keep_spectrogram: bool = False,
        on_chunk: ChunkCallback | None = None,
        patch_budget: int | None = None,
    ) -> TrackAnalysis:
        """Every patch of the track (the track view's analysis); with ``patch_budget``, library mode:
        that many patches spread over it (no spectrogram then: only excerpts are decoded)."""
        if patch_budget is not None and (keep_spectrogram or on_chunk is not None):
            raise ValueError("a sampled analysis has no whole spectrogram to keep or show")
        audio = self.decode(path) if patch_budget is None else self.decode_excerpts(path, patch_budget)
        analysis = self.analyse_decoded(
            os.fspath(path),
            audio,
            keep_spectrogram=keep_spectrogram,
            on_chunk=on_chunk,
            library=patch_budget is not None,
        )
        return analysis if patch_budget is None else self.refined(analysis, patch_budget)

    def refined(self, analysis: TrackAnalysis, budget: int) -> TrackAnalysis:
        """A sampled analysis the ``refine`` check finds too close to call, with a closer look: ``budget``
        patches more, between the first ones (sampling.closer_look_patches; only those are decoded and
        run), and the mean over both; else ``analysis`` itself. The tempo and key of the first pass are
        kept."""
        if not analysis.sampled or self.refine is None:
            return analysis
        analysis = replace(analysis, leave_one_out=self._leave_one_out(analysis))
        if not self.refine(analysis):
            return analysis
        done = frozenset(np.rint(analysis.patch_starts_s / analysis.patch_seconds).astype(int).tolist())
        audio = self.decode_excerpts(analysis.path, budget, tempo_window=False, done=done, closer=True)
        more = self.analyse_decoded(analysis.path, audio, tempo_key=False, library=True)
        if not more.sampled:  # a decoder that could not seek gave the whole track: the full analysis
            return replace(more, tempo_key=analysis.tempo_key)
        merged = self._merged(analysis, more)
        n_patches = self._groups[0].n_patches(round(merged.duration_s * merged.sample_rate))
        # Every patch of a track with no more than twice the budget: that is every patch.
        return merged if len(merged.patch_starts_s) < n_patches else replace(merged, sampled=False)

    def _leave_one_out(self, analysis: TrackAnalysis) -> tuple[dict[str, dict[str, float]], ...]:
        """label_scores() of ``analysis`` without each of its patches in turn: the taggers' means and
        embeddings less that patch, and the heads run on them (tiny: a few matrix products per patch)."""
        if not analysis.models or any(m.patch_embeddings is None for m in analysis.models.values()):
            return ()
        n = len(next(iter(analysis.models.values())).taggram)
        if n < 3:
            return ()
        replicas = []
        for left_out in range(n):
            models = {
                name: replace(
                    m,
                    scores=(n * m.scores - m.taggram[left_out]) / (n - 1),
                    embedding=(n * m.embedding - m.patch_embeddings[left_out]) / (n - 1),
                )
                for name, m in analysis.models.items()
            }
            replicas.append(replace(analysis, models=models, heads=self.run_heads(models)).label_scores())
        return tuple(replicas)

    def _merged(self, first: TrackAnalysis, more: TrackAnalysis) -> TrackAnalysis:
        """One sampled analysis of the patches of both (distinct patches): taggram rows in track order,
        scores and embeddings the means over all of them (a mean of means weighted by patch count)."""
        starts = np.concatenate([first.patch_starts_s, more.patch_starts_s])
        order = np.argsort(starts, kind="stable")
        n_first, n_more = len(first.patch_starts_s), len(more.patch_starts_s)
        models = {}
        for name, a in first.models.items():
            b = more.models[name]
            taggram = np.concatenate([a.taggram, b.taggram])[order]
            embedding = (n_first * a.embedding + n_more * b.embedding) / (n_first + n_more)
            rows = None
            if a.patch_embeddings is not None and b.patch_embeddings is not None:
                rows = np.concatenate([a.patch_embeddings, b.patch_embeddings])[order]
            models[name] = replace(
                a, scores=taggram.mean(axis=0), taggram=taggram, embedding=embedding, patch_embeddings=rows
            )
        merged = replace(first, patch_starts_s=starts[order], models=models, heads=self.run_heads(models))
        return replace(merged, leave_one_out=())

    def analyse_decoded(
        self,
        path: str,
        audio: dict[int, np.ndarray | Excerpts],
        *,
        keep_spectrogram: bool = False,
        on_chunk: ChunkCallback | None = None,
        tempo_key: bool = True,
        library: bool = False,
    ) -> TrackAnalysis:
        """The analysis of a decoded track (``decode`` or ``decode_excerpts``). ``library``: library mode's
        pass, which runs the int8 networks on sampled patches where the Analyzer has them (``quantized``
        then says so). A track no longer than the budget (decoded whole) gets the full networks even in
        library mode: its library-mode analysis is then its full analysis, never redone by a full run, at
        the cost of a few patches."""
        self._check_taggable(path, audio)
        models: dict[str, ModelScores] = {}
        quick = self._int8_nets if library else {}
        first = None
        # Tempo and key run in their own process while the networks run here (tempo_key.py says why).
        pending = self._start_tempo_key(audio[self.tempo_key_rate]) if tempo_key else None
        for group in self._groups:
            waveform = audio[group.sample_rate]
            if isinstance(waveform, Excerpts):
                result = self._run_group_sampled(group, waveform, quick)
            else:
                keep = keep_spectrogram and first is None
                result = self._run_group(group, waveform, keep, on_chunk)
            models.update(result["models"])
            if first is None:
                first = (group, waveform, result)
        group, waveform, result = first
        heads = self.run_heads(models)
        patch_seconds = group.patch_frames * group.hop / group.sample_rate
        sampled = isinstance(waveform, Excerpts)
        n_samples = waveform.n_samples if sampled else len(waveform)
        return TrackAnalysis(
            path=path,
            duration_s=n_samples / group.sample_rate,
            sample_rate=group.sample_rate,
            patch_seconds=patch_seconds,
            patch_starts_s=np.asarray(result["patch_index"], dtype=np.float64) * patch_seconds,
            models=models,
            frame_seconds=group.hop / group.sample_rate,
            spectrogram=result["spectrogram"],
            heads=heads,
            tempo_key=pending.result() if pending is not None else None,
            sampled=sampled,
            quantized=sampled and any(name in quick for name in models),
        )

    def _check_taggable(self, path: str, audio: dict[int, np.ndarray | Excerpts]) -> None:
        """Raise NothingToTag for a track shorter than one patch or silent: the taggers answer something
        for any input (a silent file is "Rock, Happy" to them), and that answer must not reach a file."""
        group = self._groups[0]
        waveform = audio[group.sample_rate]
        if isinstance(waveform, Excerpts):
            pieces, n_samples = waveform.pieces, waveform.n_samples
        else:
            pieces, n_samples = (waveform,), len(waveform)
        patch_seconds = group.patch_frames * group.hop / group.sample_rate
        reason = untaggable_reason(pieces, n_samples, group.sample_rate, patch_seconds)
        if reason is not None:
            raise NothingToTag(path, reason)

    def run_heads(self, models: dict[str, ModelScores]) -> dict[str, HeadScores]:
        """Every head on the taggers' track-level outputs (their mean scores and embeddings)."""
        heads = {}
        for head_name, (head, head_card) in list(self.heads.items()):
            probs = head_predict(head, head_card, head_input(head_card, models))
            heads[head_name] = HeadScores(
                head_name, head_card.category, head_card.labels, probs, head_card.task, head_card.ranges
            )
        return heads

    def _patch_features(self, group: _FrontEndGroup, samples: np.ndarray, count: int) -> torch.Tensor:
        """librosa features of ``count`` consecutive patches' ``samples``, as training computed them (patch
        by patch; tempo over this chunk of patches rather than the whole track, so memory stays bounded)."""
        from musictagger.research.features import patch_features  # librosa: loaded only when needed

        span = group.patch_frames * group.hop
        values = patch_features(samples, group.sample_rate, patch_samples=span, n_patches=count)
        return torch.from_numpy(values).to(self.device)

    def _run_models(
        self,
        group: _FrontEndGroup,
        patches: torch.Tensor,
        samples: np.ndarray,
        quick: dict[str, torch.nn.Module],
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every model of ``group`` on a batch of log-mel patches: ``{model: (probabilities, penultimate)}``.
        ``samples``: the batch's audio, patch after patch, for the nets that also read hand-made features.
        ``quick``: the int8 twins to run instead of the models they name (library mode)."""
        features = None
        found = {}
        for name, net, card in group.models:
            if _reads_features(card) and features is None:  # hand-made features of the same patches
                features = self._patch_features(group, samples, patches.shape[0])  # (parallel CNN)
            if name in quick:  # int8 computes its own precision: no autocast
                out = quick[name](patches)
                found[name] = (out.probs.cpu().numpy(), out.penultimate.cpu().numpy())
                continue
            with self._autocast():
                out = net(patches, features) if _reads_features(card) else net(patches)
            found[name] = (out.probs.float().cpu().numpy(), out.penultimate.float().cpu().numpy())
        return found

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    @staticmethod
    def _model_scores(
        group: _FrontEndGroup, probs: dict, penult: dict, n_patches: int, keep_rows: bool = False
    ) -> dict:
        """Each model's taggram and its means over the patches: the track's scores and embedding
        (``keep_rows``: also each patch's embedding, as library mode keeps them)."""
        models = {}
        for name, _, card in group.models:
            taggram = np.concatenate(probs[name])[:n_patches]
            rows = np.concatenate(penult[name])[:n_patches]
            models[name] = ModelScores(
                model=name,
                labels=tuple(card.labels),
                scores=taggram.mean(axis=0),
                taggram=taggram,
                embedding=rows.mean(axis=0),
                patch_embeddings=rows if keep_rows else None,
            )
        return models

    @torch.inference_mode()
    def _run_group_sampled(
        self, group: _FrontEndGroup, excerpts: Excerpts, quick: dict[str, torch.nn.Module]
    ) -> dict:
        """Library mode: the sampled patches, each framed from its own excerpt (no padding: the excerpt
        already holds the framing margin), batched as the full analysis batches consecutive patches."""
        half = group.n_fft // 2 if group.center else 0
        span = group.patch_frames * group.hop
        patch_index = [(start + half) // span for start in excerpts.starts]
        cores = group.excerpt_cores(excerpts)
        probs: dict[str, list[np.ndarray]] = {name: [] for name, _, _ in group.models}
        penult: dict[str, list[np.ndarray]] = {name: [] for name, _, _ in group.models}
        for i in range(0, len(excerpts.pieces), self.batch_size):
            batch = np.stack(excerpts.pieces[i : i + self.batch_size]).astype(np.float32, copy=False)
            mel = group.frontend(torch.from_numpy(batch).to(self.device))[:, : group.patch_frames]
            found = self._run_models(group, mel, np.concatenate(cores[i : i + self.batch_size]), quick)
            for name, (p, q) in found.items():
                probs[name].append(p)
                penult[name].append(q)
        models = self._model_scores(group, probs, penult, len(patch_index), keep_rows=True)
        return {"models": models, "patch_index": patch_index, "spectrogram": None}

    @torch.inference_mode()
    def _run_group(
        self,
        group: _FrontEndGroup,
        waveform: np.ndarray,
        keep_spectrogram: bool,
        on_chunk: ChunkCallback | None,
    ) -> dict:
        n_frames = group.n_frames(len(waveform))
        P = group.patch_frames
        # A track shorter than one patch is padded with silence (log-mel 0) rather than dropped; longer
        # tracks drop the last partial patch, as the original musicnn pipeline does.
        n_patches = group.n_patches(len(waveform))
        waveform = waveform.astype(np.float32, copy=False)
        chunk_frames = self.batch_size * P
        probs: dict[str, list[np.ndarray]] = {name: [] for name, _, _ in group.models}
        penult: dict[str, list[np.ndarray]] = {name: [] for name, _, _ in group.models}
        kept: list[np.ndarray] = []
        # Frames past the last whole patch are still computed for display, never fed to the models.
        total_frames = max(n_frames, 1)
        for f0 in range(0, total_frames, chunk_frames):
            f1 = min(f0 + chunk_frames, total_frames)
            s0, s1 = f0 * group.hop, (f1 - 1) * group.hop + group.n_fft
            piece = group.piece(waveform, s0, s1)
            if len(piece) < group.n_fft:  # only for a track shorter than one FFT window
                piece = np.pad(piece, (0, group.n_fft - len(piece)))
            mel = group.frontend(torch.from_numpy(np.ascontiguousarray(piece)).to(self.device))
            mel = mel[: f1 - f0]
            if keep_spectrogram or on_chunk is not None:
                mel_np = mel.float().cpu().numpy()
                if keep_spectrogram:
                    kept.append(mel_np)
                if on_chunk is not None and on_chunk(f0, mel_np):
                    raise AnalysisCancelled("analysis cancelled")
            whole = (f1 - f0) // P
            if whole == 0 and f0 == 0:
                patches = torch.nn.functional.pad(mel, (0, 0, 0, P - mel.shape[0])).unsqueeze(0)
            elif whole == 0:
                continue
            else:
                patches = mel[: whole * P].reshape(whole, P, mel.shape[-1])
            span, first = P * group.hop, f0 // P
            samples = waveform[first * span : (first + patches.shape[0]) * span]  # a view, not a copy
            found = self._run_models(group, patches, samples, {})
            for name, (p, q) in found.items():
                probs[name].append(p)
                penult[name].append(q)
        models = self._model_scores(group, probs, penult, n_patches)
        spectrogram = np.concatenate(kept) if kept else None
        return {"models": models, "patch_index": np.arange(n_patches), "spectrogram": spectrogram}


def _reads_features(card: ModelCard) -> bool:
    """Whether a net also reads hand-made features (its card's config lists them as an input)."""
    return "handmade-features" in card.config.get("inputs", ())


def analyse_files(
    analyzer: Analyzer,
    paths: Iterable[str],
    *,
    decode_workers: int = 2,
    prefetch: int = 4,
    patch_budget: int | None = None,
) -> Iterator[AnalysisResult]:
    """Analyse many files, in order, decoding ahead in worker threads while the model runs.

    Decoders (libsndfile, soxr, FFmpeg) release the GIL, so ``decode_workers`` threads keep up to
    ``prefetch`` tracks decoded ahead of the model and it never waits idle on a decoder. A file that
    fails yields an ``AnalysisResult`` with its error; the batch goes on. ``patch_budget``: library mode
    (that many patches per track, see the module docstring); None: every patch. Library mode on a CPU
    analyses ``Analyzer.tracks_at_once`` tracks at a time (``_tracks_in_parallel`` says why).
    """
    decode, work = analyzer.decode, analyzer.analyse_decoded
    at_once = 1
    if patch_budget is not None:
        decode = partial(analyzer.decode_excerpts, budget=patch_budget)
        at_once = analyzer.tracks_at_once

        def work(path: str, audio: dict) -> TrackAnalysis:
            return analyzer.refined(analyzer.analyse_decoded(path, audio, library=True), patch_budget)

    # closing(): a caller that stops early (cancel) stops the decode threads at once, not at collection.
    with (
        _tracks_in_parallel(at_once) as last_alone,
        closing(_decoded_ahead(paths, decode, work, decode_workers, prefetch, at_once, last_alone)) as done,
    ):
        for path, analysis, error in done:
            yield AnalysisResult(path=path, analysis=analysis, error=error)


@contextlib.contextmanager
def _tracks_in_parallel(tracks: int) -> Iterator[Callable[[], None]]:
    """While ``tracks`` tracks are analysed at once, each one's torch operations get an equal share of
    torch's threads (one each on a 2-core machine).

    Why: library mode runs small batches (16 patches), and a torch operation split over every core waits
    at its end for the slowest thread, which on a small machine is often descheduled by a decode or the
    tempo/key process; two tracks with one thread each keep both cores busy instead. Measured on the 16
    tracks of ../shared/audio/music (2 cores): 32.5 CPU-s for the batch with 2 threads per operation,
    24.6 with 1 (README, *Library mode*)."""
    if tracks <= 1:
        yield lambda: None
        return
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, before // tracks))
    try:
        # The batch's last track, running alone, gets every thread back (a long track with a closer look
        # would otherwise end the batch on one core).
        yield lambda: torch.set_num_threads(before)
    finally:
        torch.set_num_threads(before)


def analyse_tempo_key_files(
    analyzer: Analyzer,
    paths: Iterable[str],
    *,
    decode_workers: int = 2,
    prefetch: int = 4,
) -> Iterator[TempoKeyResult]:
    """The tempo/key stage alone on many files, in order: one decode at ``tempo_key_rate`` each, no
    network run (tracks whose tagger analyses are current). The Analyzer must have a stage."""
    if analyzer.tempo_key is None:
        raise ModelError("this analyzer runs no tempo/key stage")

    def estimate(_path: str, signal: np.ndarray) -> TempoKey | None:
        return analyzer.tempo_key_of(signal)

    with closing(
        _decoded_ahead(paths, analyzer.decode_for_tempo_key, estimate, decode_workers, prefetch)
    ) as done:
        for path, tempo_key, error in done:
            yield TempoKeyResult(path=path, tempo_key=tempo_key, error=error)


def _decoded_ahead(
    paths: Iterable[str],
    decode: Callable[[str], object],
    work: Callable[[str, object], object],
    decode_workers: int,
    prefetch: int,
    work_workers: int = 1,
    last_alone: Callable[[], None] | None = None,
) -> Iterator[tuple[str, object, MusictaggerError | None]]:
    """``(path, work(path, decode(path)), None)`` per path in order, or ``(path, None, error)``; the
    decodes run ahead on worker threads, ``work`` on the caller's, or with ``work_workers`` > 1 on that
    many threads of its own (several tracks at once; still yielded in order). ``last_alone()`` is called
    once no track is left to start and only the one waited for still runs."""
    pending: deque = deque()
    source = iter(paths)
    pool = ThreadPoolExecutor(max_workers=max(1, decode_workers), thread_name_prefix="decode")
    workers = None
    if work_workers > 1:
        workers = ThreadPoolExecutor(max_workers=work_workers, thread_name_prefix="analyse")

    def decoded_then_worked(path: str, decoded: Future) -> object:
        return work(path, decoded.result())

    def submit_next() -> bool:
        path = next(source, None)
        if path is None:
            return False
        future = pool.submit(decode, path)
        if workers is not None:
            future = workers.submit(decoded_then_worked, path, future)
        pending.append((path, future))
        return True

    try:
        for _ in range(max(1, prefetch, work_workers + 1)):
            if not submit_next():
                break
        while pending:
            path, future = pending.popleft()
            if not submit_next() and last_alone is not None and all(f.done() for _, f in pending):
                last_alone()
                last_alone = None
            try:
                done = future.result() if workers is not None else work(path, future.result())
            except MusictaggerError as exc:
                yield path, None, exc
                continue
            except MemoryError:  # a very long recording on a small machine: say so, not numpy's words
                cause = "not enough memory to decode and analyse it (is it many hours long?)"
                yield path, None, AnalysisError(path, cause)
                continue
            except Exception as exc:  # a decoder or library bug must not end a 20,000-track batch
                yield path, None, AnalysisError(path, f"{type(exc).__name__}: {exc}")
                continue
            yield path, done, None
    finally:
        # A caller that stops early (cancel) must not wait for tracks queued ahead: drop those, and wait
        # only for decodes and analyses already running.
        if workers is not None:
            workers.shutdown(wait=False, cancel_futures=True)
        pool.shutdown(wait=True, cancel_futures=True)
        if workers is not None:
            workers.shutdown(wait=True)
