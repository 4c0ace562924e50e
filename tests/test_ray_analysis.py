"""Analysis as a Ray job (``scan --ray``, issue 15) on a real local Ray cluster of 2 CPUs, started once for
the module: the stored analyses equal a local run's, a worker killed mid-job costs no track and stores
none twice, and an unreachable cluster is one line with nothing written.

The music is real audio from tests/data; library mode runs with a budget of 2 patches, so the 12-s and
20-s excerpts are sampled as full-length tracks are with the default budget.
"""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, METAL
from sqlalchemy import func, select

from musictagger.library import open_library
from musictagger.library.schema import Analysis, Track
from musictagger.library.store import load_analysis
from musictagger.services.analysis import Models, scan_and_analyse
from musictagger.settings import Settings, save_settings

ROOT = Path(__file__).resolve().parent.parent
TRACKS = (
    METAL,  # 12 s: 4 patches, 2 sampled
    DATA / "audio" / "tagged.ogg",  # 20 s: 6 patches, 2 sampled
    DATA / "audio" / "vibe_ace.mp3",  # 3.5 s: 1 patch, whole
    DATA / "audio" / "vibe_ace.opus",
    DATA / "audio" / "vibe_ace_aac.m4a",  # FFmpeg
    DATA / "audio" / "vibe_ace.flac",
)
SETTINGS = {"analysis": {"device": "cpu", "library_patches": 2, "workers": 1}}

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def ray_cluster():
    """A local 2-CPU Ray cluster (loopback only), shut down when the module's tests are done."""
    from musictagger.services.ray_analysis import connect

    ray, started = connect(None, num_cpus=2)
    assert started
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
    assert not ray.is_initialized()


@pytest.fixture
def settings() -> Settings:
    saved = Settings().replace(**SETTINGS)
    save_settings(saved)  # the CLI in a subprocess reads the same (MUSICTAGGER_CONFIG_DIR: conftest)
    return saved


@pytest.fixture(scope="module")
def models() -> Models:
    return Models.load(Settings().replace(**SETTINGS))


def music(root: Path, tracks=TRACKS) -> Path:
    folder = root / "Music"
    folder.mkdir()
    for track in tracks:
        shutil.copy(track, folder / track.name)
    return folder


def run_cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "main.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=400)


def stored(url: Path) -> dict[str, dict]:
    """Per file name: labels, tempo and key, and every model's stored analysis."""
    with open_library(url) as library, library.session() as session:
        found = {}
        for track in session.scalars(select(Track)):
            found[Path(track.path).name] = {
                "error": track.error,
                "labels": sorted((lab.category, lab.label, lab.confident) for lab in track.labels),
                "scores": {(lab.category, lab.label): lab.score for lab in track.labels},
                "bpm_key": (track.bpm, track.key),
                "energy": track.energy,
                "analyses": load_analysis(session, track),
            }
        return found


def assert_same_analyses(local: dict, remote: dict) -> None:
    assert sorted(local) == sorted(remote)
    for name, mine in local.items():
        theirs = remote[name]
        assert mine["error"] is None and theirs["error"] is None, name
        assert mine["labels"] == theirs["labels"], name
        assert mine["bpm_key"] == theirs["bpm_key"], name
        for label, score in mine["scores"].items():
            assert theirs["scores"][label] == pytest.approx(score, abs=1e-4), (name, label)
        assert mine["energy"] == pytest.approx(theirs["energy"], abs=1e-4)
        assert sorted(mine["analyses"]) == sorted(theirs["analyses"])
        for model, row in mine["analyses"].items():
            other = theirs["analyses"][model]
            assert row.sampled == other.sampled
            np.testing.assert_allclose(other.embedding, row.embedding, atol=1e-4)
            np.testing.assert_allclose(other.patch_starts_s, row.patch_starts_s)
            np.testing.assert_allclose(other.taggram, row.taggram, atol=1e-3)  # float16 rows


def test_scan_on_a_ray_cluster_stores_what_a_local_scan_stores(ray_cluster, settings, models, tmp_path):
    folder = music(tmp_path, TRACKS[:3])
    with open_library(tmp_path / "local.sqlite") as library:
        _, report = scan_and_analyse(library, [folder], models)
    assert report.analysed == 3
    # The CLI in its own process, a driver joining the cluster by its address as on a multi-machine set-up.
    done = run_cli("scan", str(folder), "--ray", ray_cluster, "--db", str(tmp_path / "ray.sqlite"))
    assert done.returncode == 0, done.stderr
    assert "2 Ray workers on 1 node(s)" in done.stderr
    assert "analysed 3 tracks with" in done.stderr and ", 0 failed" in done.stderr
    local, remote = stored(tmp_path / "local.sqlite"), stored(tmp_path / "ray.sqlite")
    assert_same_analyses(local, remote)
    assert {row.sampled for track in remote.values() for row in track["analyses"].values()} == {True, False}
    # A rescan finds nothing to analyse: every result of the Ray run was stored as current.
    again = run_cli("scan", str(folder), "--ray", ray_cluster, "--db", str(tmp_path / "ray.sqlite"))
    assert "analysed 0 tracks" in again.stderr, again.stderr


def test_a_worker_killed_mid_job_costs_no_track_and_stores_none_twice(
    ray_cluster, settings, models, tmp_path
):
    from musictagger.services.ray_analysis import RayRunner

    folder = music(tmp_path)
    results: list[tuple[int, str | None]] = []
    with RayRunner.start(settings, models) as runner:
        assert len(runner.actors) == 2
        victim = runner.workers[0].pid

        def kill_a_worker_after_the_first_result(track_id, _analysis, error):
            results.append((track_id, error))
            if len(results) == 1:  # both workers hold queued tracks now
                os.kill(victim, signal.SIGKILL)

        with open_library(tmp_path / "index.sqlite") as library:
            _, report = scan_and_analyse(
                library, [folder], models, on_track=kill_a_worker_after_the_first_result, runner=runner
            )
        # Ray restarted the killed worker (models loaded again) and ran its unfinished tracks there.
        restarted = runner._ray.get(runner.actors[0].describe.remote())
        assert restarted.pid != victim
    assert report.analysed == len(TRACKS) and report.errors == [] and not report.stopped
    track_ids = [track_id for track_id, _ in results]
    assert len(track_ids) == len(set(track_ids)) == len(TRACKS)  # each result reached the index once
    assert all(error is None for _, error in results)
    with open_library(tmp_path / "index.sqlite") as library, library.session() as session:
        rows_per_track = select(Analysis.track_id, func.count()).group_by(Analysis.track_id)
        per_track = dict(session.execute(rows_per_track).all())
        assert sorted(per_track) == sorted(track_ids)
        assert set(per_track.values()) == {len(models.analyzer.cards)}  # one row per model, no duplicate
        assert session.scalar(select(func.count()).where(Track.error.is_not(None))) == 0
    # The same analyses as a run on one machine.
    with open_library(tmp_path / "local.sqlite") as library:
        scan_and_analyse(library, [folder], models)
    assert_same_analyses(stored(tmp_path / "local.sqlite"), stored(tmp_path / "index.sqlite"))


def test_an_unreachable_cluster_is_one_line_and_writes_nothing(ray_cluster, settings, models, tmp_path):
    folder = music(tmp_path, TRACKS[:2])
    index = tmp_path / "index.sqlite"
    with socket_closed_port() as port:
        failed = run_cli("scan", str(folder), "--ray", f"127.0.0.1:{port}", "--db", str(index))
    assert failed.returncode == 2
    lines = failed.stderr.strip().splitlines()
    assert lines == [
        f"musictagger: cannot reach the Ray cluster at 127.0.0.1:{port}: Connection refused "
        "(is 'ray start --head' running there?)"
    ], failed.stderr
    assert not index.exists()  # the cluster is reached before the index is opened
    # The next run does the whole job.
    with open_library(index) as library:
        _, report = scan_and_analyse(library, [folder], models)
    assert report.analysed == 2 and report.errors == []


class socket_closed_port:
    """A loopback port nothing listens on (bound, never listening, for the test's duration)."""

    def __enter__(self) -> int:
        import socket

        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        return self._socket.getsockname()[1]

    def __exit__(self, *exc_info) -> None:
        self._socket.close()


def test_workers_gone_for_good_stop_the_run_with_what_was_stored_kept(ray_cluster, models, tmp_path):
    from musictagger.services.ray_analysis import RayClusterError, RayRunner

    folder = music(tmp_path, (METAL,))
    index = tmp_path / "index.sqlite"
    with RayRunner.start(Settings().replace(**SETTINGS), models) as runner, open_library(index) as library:
        _, first = scan_and_analyse(library, [folder], models, runner=runner)
        assert first.analysed == 1
        for actor in runner.actors:  # no restart: as if every worker's machine went away
            runner._ray.kill(actor, no_restart=True)
        for track in (DATA / "audio" / "vibe_ace.mp3", DATA / "audio" / "vibe_ace.opus"):
            shutil.copy(track, folder / track.name)
        with pytest.raises(RayClusterError, match="the Ray workers are gone"):
            scan_and_analyse(library, [folder], models, runner=runner)
    with open_library(index) as library:
        with library.session() as session:  # the new tracks were neither analysed nor marked as failing
            assert session.scalar(select(func.count(Track.id))) == 3
            assert session.scalar(select(func.count()).where(Track.error.is_not(None))) == 0
            assert session.scalar(select(func.count(func.distinct(Analysis.track_id)))) == 1
        _, report = scan_and_analyse(library, [folder], models)  # the next run resumes with the rest
    assert report.pending == report.analysed == 2


def test_the_tempo_and_key_pass_runs_on_the_cluster_too(ray_cluster, settings, models, tmp_path):
    """Tracks analysed before tempo and key were on get them from the workers' decode alone."""
    from musictagger.services.ray_analysis import RayRunner

    folder = music(tmp_path, (METAL,))
    no_tempo_key = Settings().replace(analysis={**SETTINGS["analysis"], "tempo_key": False})
    with open_library(tmp_path / "index.sqlite") as library:
        scan_and_analyse(library, [folder], Models.load(no_tempo_key, vocabulary=models.vocabulary))
        with RayRunner.start(settings, models) as runner:
            _, report = scan_and_analyse(library, (), models, runner=runner)
        assert report.pending == 0 and report.tempo_key_pending == report.tempo_key_only == 1
        with library.session() as session:
            track = session.scalars(select(Track)).one()
            # What this process' stage estimates from the same decode.
            expected = models.analyzer.tempo_key_of(models.analyzer.decode_for_tempo_key(METAL))
            assert track.bpm == expected.tempo.bpm and track.bpm is not None
            assert track.key == (expected.key.key.musical if expected.key.key else None)
