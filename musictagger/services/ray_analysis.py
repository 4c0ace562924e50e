"""Analysis as a Ray job (``scan --ray [ADDRESS]``, ``tag --ray [ADDRESS]``): the pending tracks are
analysed on Ray actors, and this process (the driver) stores each result in the index as it lands,
through the same per-track step as a local run (``library.store.analyse_pending(runner=...)``).

    with RayRunner.start(settings, models, address=None) as runner:  # None: a local cluster
        scan_and_analyse(library, paths, models, runner=runner)

Each actor loads the models once, from the driver's settings and vocabulary (``Models.load``), so it runs
the same analysis as a local run (library mode or full, heads, tempo and key in the actor's own spawned
process), and returns plain data: the ``TrackAnalysis`` (a dataclass of numpy arrays), or the error's
cause as text (the errors' own classes do not survive pickling). The driver yields the results in the
paths' order, keeping each actor busy with a few tracks queued ahead.

A worker that dies (killed, out of memory) is restarted by Ray, which runs its unfinished tracks again
(``max_restarts``, ``max_task_retries``); each track's result reaches the driver once, and is stored
once. A track whose worker died on every try gets that as its error, as a file that cannot be decoded
does; a cluster that cannot be reached, or that went away, ends the run with one line
(``RayClusterError``): what was stored stays, and the next run resumes with the rest.

Ray is imported here alone, and only when a run asks for it: the app and a plain ``scan`` never load it.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from musictagger.analysis import (
    AnalysisError,
    AnalysisResult,
    Analyzer,
    TempoKeyResult,
    TrackAnalysis,
    analyse_files,
    analyse_tempo_key_files,
)
from musictagger.errors import MusictaggerError
from musictagger.services.analysis import Models
from musictagger.settings import Settings
from musictagger.taxonomy import Vocabulary
from musictagger.tempo_key import TempoKey

# Ray restarts a dead worker this many times over the run (loading the models again), and runs each
# unfinished track again up to this many times, before the run gives up on the worker or the track.
MAX_RESTARTS = 4
MAX_TASK_RETRIES = 2
QUEUED_PER_WORKER = 2  # tracks sent to a worker ahead: it never waits on the driver between tracks
CONNECT_TIMEOUT_S = 5.0  # a head node's port that does not answer within this is unreachable


class RayClusterError(MusictaggerError):
    """The Ray cluster cannot be reached, or failed under the run: the run stops, nothing half-written."""


@dataclass(frozen=True)
class WorkerInfo:
    """What one actor loaded, where: the driver checks every worker runs the analysis it would run."""

    node: str
    pid: int
    models: dict[str, str]  # {model: version}
    heads: tuple[str, ...]
    tempo_key_basis: str | None
    patch_budget: int | None


class AnalysisWorker:
    """One Ray actor: the models loaded once from the driver's settings, then one track per call."""

    def __init__(self, settings: Settings, vocabulary: Vocabulary):
        self.models = Models.load(settings, vocabulary=vocabulary)

    def describe(self) -> WorkerInfo:
        analyzer = self.models.analyzer
        return WorkerInfo(
            node=socket.gethostname(),
            pid=os.getpid(),
            models={name: card.version for name, card in analyzer.cards.items()},
            heads=tuple(sorted(analyzer.heads)),
            tempo_key_basis=analyzer.tempo_key.basis if analyzer.tempo_key is not None else None,
            patch_budget=self.models.patch_budget,
        )

    def analyse(self, path: str, patch_budget: int | None) -> tuple[TrackAnalysis | None, str | None]:
        """The local path's analysis of one file (``analysis.analyse_files``, its error handling too)."""
        result = next(
            analyse_files(self.models.analyzer, [path], decode_workers=1, patch_budget=patch_budget)
        )
        return result.analysis, _cause(result.error)

    def tempo_key(self, path: str) -> tuple[TempoKey | None, str | None]:
        """Tempo and key from a decode alone (``analysis.analyse_tempo_key_files``)."""
        result = next(analyse_tempo_key_files(self.models.analyzer, [path], decode_workers=1))
        return result.tempo_key, _cause(result.error)

    def close(self) -> None:
        """End the tempo/key process this worker spawned (Ray ends the worker itself)."""
        if self.models.analyzer.tempo_key is not None:
            self.models.analyzer.tempo_key.close()


def _cause(error: BaseException | None) -> str | None:
    if error is None:
        return None
    return getattr(error, "cause", None) or str(error)


class RayRunner:
    """A ``library.store.AnalysisRunner`` on Ray actors, one per CPU of the cluster. ``start`` connects
    (or starts a local cluster) and waits until every actor has loaded the models; ``close`` (or the
    ``with`` block's end) ends the actors, and the local cluster if this runner started it."""

    def __init__(self, ray: Any, actors: list, workers: list[WorkerInfo], started_cluster: bool):
        self._ray = ray
        self.actors = actors
        self.workers = workers  # what each actor loaded, where (its pid: tests kill one mid-run)
        self._started_cluster = started_cluster

    @classmethod
    def start(
        cls,
        settings: Settings,
        models: Models,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        workers: int | None = None,
    ) -> RayRunner:
        """Connect to the cluster at ``address`` (None: this process' cluster if it has one, else a new
        local one with ``num_cpus`` CPUs) and start ``workers`` actors (default: one per CPU), each
        loading ``settings``' models. Raises RayClusterError (cluster unreachable, a worker that could
        not load the models or loaded others than ``models``)."""
        ray, started = connect(address, num_cpus)
        actors: list = []
        try:
            count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            remote = ray.remote(num_cpus=1, max_restarts=MAX_RESTARTS, max_task_retries=MAX_TASK_RETRIES)(
                AnalysisWorker
            )
            actors = [remote.remote(settings, models.vocabulary) for _ in range(count)]
            try:
                infos = ray.get([actor.describe.remote() for actor in actors])
            except ray.exceptions.RayError as exc:
                raise RayClusterError(f"a Ray worker could not load the models: {_first_line(exc)}") from None
            _check_same_analysis(models, infos)
        except BaseException:
            _end(ray, actors, started)
            raise
        return cls(ray, actors, infos, started)

    def __enter__(self) -> RayRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        actors, self.actors = self.actors, []
        _end(self._ray, actors, self._started_cluster)

    def describe(self) -> str:
        nodes = sorted({info.node for info in self.workers})
        return f"{len(self.workers)} Ray workers on {len(nodes)} node(s): {', '.join(nodes)}"

    # -- library.store.AnalysisRunner ------------------------------------------------------------------

    def analyse_files(
        self, analyzer: Analyzer, paths: list[str], *, decode_workers: int, patch_budget: int | None
    ) -> Iterator[AnalysisResult]:
        """Each path's analysis, in order (the actors' own analyzers run it; ``analyzer`` and
        ``decode_workers`` are the driver's, unused)."""
        del analyzer, decode_workers
        for path, (analysis, cause) in self._in_order(
            paths, lambda actor, p: actor.analyse.remote(p, patch_budget)
        ):
            error = AnalysisError(path, cause) if cause is not None else None
            yield AnalysisResult(path=path, analysis=analysis, error=error)

    def analyse_tempo_key_files(
        self, analyzer: Analyzer, paths: list[str], *, decode_workers: int
    ) -> Iterator[TempoKeyResult]:
        del analyzer, decode_workers
        for path, (tempo_key, cause) in self._in_order(paths, lambda actor, p: actor.tempo_key.remote(p)):
            error = AnalysisError(path, cause) if cause is not None else None
            yield TempoKeyResult(path=path, tempo_key=tempo_key, error=error)

    def _in_order(self, paths: Iterable[str], call: Callable[[Any, str], Any]) -> Iterator[tuple[str, Any]]:
        """``(path, call(actor, path)'s value)`` per path, in the paths' order, as soon as each is done and
        every path before it was yielded; the actors run ahead, at most QUEUED_PER_WORKER tracks each."""
        ray = self._ray
        if not self.actors:
            raise RayClusterError("the Ray runner is closed")
        source = enumerate(paths)
        in_flight: dict[Any, tuple[int, str, Any]] = {}  # ObjectRef -> (index, path, actor)
        load = {id(actor): 0 for actor in self.actors}
        done: dict[int, tuple[str, Any]] = {}
        next_out = 0
        exhausted = False

        def fill() -> None:
            nonlocal exhausted
            while not exhausted and len(in_flight) < QUEUED_PER_WORKER * len(self.actors):
                item = next(source, None)
                if item is None:
                    exhausted = True
                    return
                index, path = item
                actor = min(self.actors, key=lambda a: load[id(a)])
                load[id(actor)] += 1
                in_flight[call(actor, path)] = (index, path, actor)

        try:
            fill()
            while in_flight or next_out in done:
                if next_out in done:
                    yield done.pop(next_out)
                    next_out += 1
                    continue
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                index, path, actor = in_flight.pop(ready[0])
                load[id(actor)] -= 1
                done[index] = (path, self._value(ready[0], path))
                fill()
        finally:
            for ref in in_flight:  # a stopped run: tracks queued on the actors are dropped
                ray.cancel(ref)

    def _value(self, ref: Any, path: str) -> Any:
        ray = self._ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            if not self._workers_alive():
                raise RayClusterError(f"the Ray workers are gone: {_first_line(exc)}") from None
            # The workers answer, so the track itself killed its worker on every try (a decoder crash,
            # memory): it gets that as its error, as an unreadable file does, and the run goes on.
            cause = f"the Ray worker analysing it died {MAX_TASK_RETRIES + 1} times ({_first_line(exc)})"
            return None, cause
        except ray.exceptions.RayError as exc:
            raise RayClusterError(f"the Ray cluster failed: {_first_line(exc)}") from None

    def _workers_alive(self) -> bool:
        ray = self._ray
        try:
            ray.get([actor.describe.remote() for actor in self.actors], timeout=120)
        except ray.exceptions.RayError:
            return False
        return True


def connect(address: str | None, num_cpus: int | None) -> tuple[Any, bool]:
    """Ray, connected: to ``address``, to this process' cluster, or to a new local one (then True)."""
    if address is None and "ray" not in sys.modules:
        # A local cluster listens on the loopback alone (Ray otherwise picks the machine's interface).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    if ray.is_initialized():
        return ray, False
    if address is not None:
        _check_reachable(address)
    try:
        if address is None:
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
            )
            return ray, True
        ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
        raise RayClusterError(f"cannot connect to the Ray cluster at {address}: {_first_line(exc)}") from None
    return ray, False


def _check_reachable(address: str) -> None:
    """A ``host:port`` (or ``ray://host:port``) head node that does not answer fails here at once: Ray's
    own connect retries for minutes."""
    if address == "auto":
        return
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise RayClusterError(f"not a Ray address: {address!r} (HOST:PORT of the head node, or auto)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RayClusterError(
            f"cannot reach the Ray cluster at {address}: {reason} (is 'ray start --head' running there?)"
        ) from None


def _check_same_analysis(models: Models, infos: list[WorkerInfo]) -> None:
    """Every worker must run what this process would: the same model versions, heads, tempo/key basis
    and patch budget (a node with other models or heads would store other analyses)."""
    analyzer = models.analyzer
    expected = (
        {name: card.version for name, card in analyzer.cards.items()},
        tuple(sorted(analyzer.heads)),
        analyzer.tempo_key.basis if analyzer.tempo_key is not None else None,
        models.patch_budget,
    )
    for info in infos:
        got = (info.models, info.heads, info.tempo_key_basis, info.patch_budget)
        if got != expected:
            raise RayClusterError(
                f"the Ray worker on {info.node} loaded other models or heads than this machine "
                f"({_summary(got)} instead of {_summary(expected)}): install the same models on every node"
            )


def _summary(analysis: tuple) -> str:
    model_versions, heads, _basis, _budget = analysis
    return (
        "models " + ", ".join(f"{m} {v}" for m, v in model_versions.items()) + "; heads " + ", ".join(heads)
    )


def _end(ray: Any, actors: list, shutdown: bool) -> None:
    """End the actors (their tempo/key processes first), then the local cluster this runner started."""
    try:
        if actors:
            closing = [actor.close.remote() for actor in actors]
            ray.wait(closing, num_returns=len(closing), timeout=10)
            for actor in actors:
                ray.kill(actor, no_restart=True)
    finally:
        if shutdown:
            ray.shutdown()


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


__all__ = ["AnalysisWorker", "RayClusterError", "RayRunner", "WorkerInfo"]
