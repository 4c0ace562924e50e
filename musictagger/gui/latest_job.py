"""One background job at a time, the newest wins: the pattern behind the track view's workers.

Selecting another track or label makes the running job pointless, so a new job cancels the one before
(through its ``cancel_event``) and results of a job that is no longer current are dropped. Jobs run on a
pool thread of their own (one at a time: the models already use every core) and are kept until their
last signal arrives, because a queued event needs the job's signal object alive.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QRunnable, QThreadPool


class LatestJob(QRunnable):
    """A job for ``LatestJobRunner``: numbered, and cancelled by setting ``cancel_event``."""

    def __init__(self, job_id: int):
        super().__init__()
        self.job_id = job_id
        self.cancel_event = threading.Event()


class LatestJobRunner(QObject):
    """Base of workers whose jobs are ``LatestJob``s."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._current: LatestJob | None = None
        self._live_jobs: dict[int, LatestJob] = {}
        self._next_id = 0

    def _new_job_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _start(self, job: LatestJob) -> None:
        """Run ``job`` as the current one (call ``cancel()`` first to drop the previous)."""
        job.setAutoDelete(False)
        self._live_jobs[job.job_id] = job
        self._current = job
        self._pool.start(job)

    def cancel(self) -> None:
        if self._current is not None:
            self._current.cancel_event.set()
            self._current = None

    def is_busy(self) -> bool:
        return self._current is not None

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Cancel and wait for the pool thread, so the app never exits under a running torch call."""
        self.cancel()
        self._pool.waitForDone(timeout_ms)

    def _retire(self, job_id: int) -> bool:
        """Forget a job that has sent its last signal; True if it was the current one."""
        self._live_jobs.pop(job_id, None)
        if self._is_current(job_id):
            self._current = None
            return True
        return False

    def _is_current(self, job_id: int) -> bool:
        return self._current is not None and self._current.job_id == job_id
