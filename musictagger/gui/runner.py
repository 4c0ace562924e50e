"""The one way the app runs work off the GUI thread.

    runner = Runner(parent=window)
    task = runner.submit("write", services.writes.write, library, plans, settings,
                         on_event={"progress": dialog.set_progress}, on_done=dialog.written,
                         on_error=dialog.failed)

The rule this module enforces: **worker threads never see a Qt object.** A task is a plain function
called on a lane's thread as ``fn(ctx, *args)``; it gets plain data (paths, ids, dataclasses, numpy
arrays, core objects such as ``Library`` or ``Analyzer``) and a ``TaskContext``, and hands plain data
back: ``ctx.report(kind, *payload)`` for progress, its return value for the result. Both go into a
``queue.SimpleQueue``; a QTimer on the GUI thread drains it and calls the callbacks there. No signal is
emitted from a worker, no QObject is created, referenced or dropped on one, so no Qt object's last
Python reference can ever die on a worker thread (see docs/architecture.md, "Threads", for why that
matters to PySide6). ``submit`` refuses a QObject as the function's owner or as an argument.

Lanes are named single-thread executors: work of one lane runs in order (writes are serialised, as
Picard serialises saves), different lanes run side by side (an explanation does not wait for the library
analysis). ``supersede=True`` makes a task the only wanted one of its lane: earlier tasks of the lane are
cancelled (``ctx.cancelled()`` turns true, ``ctx.check()`` raises) and their events are dropped — the
"newest track wins" pattern of the track view.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)

#: How often the GUI thread looks for results while a task is live. 15 ms keeps progress smooth and
#: costs nothing when idle: the timer only runs while tasks are live.
POLL_MS = 15
#: At most this long per drain, so a burst of events never stalls the event loop.
DRAIN_BUDGET_S = 0.02
# A callback that keeps the GUI thread longer than this is logged: a user sees it as a stutter.
SLOW_CALLBACK_S = 0.03
#: Lane threads run at this much lower CPU priority (Linux nice; the threads they start, torch's and the
#: decoders', inherit it): on a 2-core laptop the analysis would otherwise leave the GUI thread waiting
#: for a core. Background work still gets every idle cycle.
BACKGROUND_NICENESS = 10

_DONE, _ERROR, _CANCELLED = "\x00done", "\x00error", "\x00cancelled"


class TaskCancelled(Exception):
    """Raised by ``TaskContext.check()`` in a task that is no longer wanted; ends it quietly."""


class TaskContext:
    """What a task function gets besides its arguments: a way to report, and to notice cancel / pause.

    Plain Python only (a queue and two events): safe to hold on any thread.
    """

    def __init__(self, task_id: int, events: queue.SimpleQueue, cancel_event: threading.Event):
        self.task_id = task_id
        self._events = events
        self.cancel_event = cancel_event
        self.resume_event = threading.Event()
        self.resume_event.set()
        self.holding = threading.Event()  # set while a paused task actually waits

    def report(self, kind: str, *payload: Any) -> None:
        """Send ``payload`` (plain data) to the GUI thread's ``on_event[kind]`` callback."""
        self._events.put((self.task_id, kind, payload))

    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check(self) -> None:
        """Raise ``TaskCancelled`` when the task is no longer wanted (a stop point for long loops)."""
        if self.cancel_event.is_set():
            raise TaskCancelled

    def should_stop(self) -> bool:
        """The core's ``should_stop`` callback: waits here while paused, True once cancelled."""
        while not self.resume_event.wait(0.1):
            self.holding.set()
            if self.cancel_event.is_set():
                break
        self.holding.clear()
        return self.cancel_event.is_set()


@dataclass(eq=False)
class Task:
    """The GUI thread's handle on one submitted task."""

    id: int
    lane: str
    context: TaskContext
    on_event: dict[str, Callable[..., Any]] = field(default_factory=dict)
    on_done: Callable[[Any], Any] | None = None
    on_error: Callable[[str], Any] | None = None
    on_cancelled: Callable[[], Any] | None = None
    future: Future | None = None
    superseded: bool = False
    finished: bool = False

    def cancel(self) -> None:
        """Ask the task to stop at its next stop point; its later events are dropped."""
        self.superseded = True
        self.context.cancel_event.set()
        self.context.resume_event.set()  # a paused task must wake up to see it

    def set_paused(self, paused: bool) -> None:
        if paused:
            self.context.resume_event.clear()
        else:
            self.context.resume_event.set()

    @property
    def paused(self) -> bool:
        return not self.context.resume_event.is_set()

    @property
    def holding(self) -> bool:
        """Paused, and the task is actually waiting at a stop point (nothing of it runs now)."""
        return self.context.holding.is_set()


class Runner(QObject):
    """Owns the lanes' threads and delivers their results on the GUI thread. Create it on the GUI thread."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._lanes: dict[str, ThreadPoolExecutor] = {}
        self._tasks: dict[int, Task] = {}
        self._ids = itertools.count(1)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.deliver)
        self._closed = False

    # -- GUI thread API ----------------------------------------------------------------------------------

    def submit(
        self,
        lane: str,
        fn: Callable[..., Any],
        *args: Any,
        on_event: dict[str, Callable[..., Any]] | None = None,
        on_done: Callable[[Any], Any] | None = None,
        on_error: Callable[[str], Any] | None = None,
        on_cancelled: Callable[[], Any] | None = None,
        supersede: bool = False,
    ) -> Task:
        """Run ``fn(ctx, *args)`` on ``lane``'s thread; callbacks run later on the GUI thread.

        Once the runner is shut down (the window is closing) a task is not run: the handle comes back
        already cancelled and no callback is called.
        """
        _refuse_qt(fn, args)
        task_id = next(self._ids)
        context = TaskContext(task_id, self._events, threading.Event())
        task = Task(task_id, lane, context, dict(on_event or {}), on_done, on_error, on_cancelled)
        if self._closed:
            log.debug("not run, the runner is shut down: %s", getattr(fn, "__qualname__", fn))
            task.cancel()
            task.finished = True
            return task
        if supersede:
            self.cancel_lane(lane)
        self._tasks[task_id] = task
        executor = self._lanes.get(lane)
        if executor is None:
            executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"musictagger-{lane}", initializer=_lower_priority
            )
            self._lanes[lane] = executor
        task.future = executor.submit(_run_task, context, fn, args)
        if not self._timer.isActive():
            self._timer.start()
        return task

    def cancel_lane(self, lane: str) -> None:
        for task in self._tasks.values():
            if task.lane == lane:
                task.cancel()

    def busy(self, lane: str | None = None) -> bool:
        return any(lane is None or task.lane == lane for task in self._tasks.values())

    def live_tasks(self, lane: str | None = None) -> list[Task]:
        return [task for task in self._tasks.values() if lane is None or task.lane == lane]

    def deliver(self) -> None:
        """Hand queued results to their callbacks (the timer calls this; tests may too)."""
        deadline = time.monotonic() + DRAIN_BUDGET_S
        while time.monotonic() < deadline:
            try:
                task_id, kind, payload = self._events.get_nowait()
            except queue.Empty:
                break
            task = self._tasks.get(task_id)
            if task is None:
                continue
            if kind in (_DONE, _ERROR, _CANCELLED):
                del self._tasks[task_id]
                task.finished = True
                self._finish(task, kind, payload)
            elif not task.superseded:
                callback = task.on_event.get(kind)
                if callback is not None:
                    _call(callback, *payload)
        if not self._tasks and self._events.empty():
            self._timer.stop()

    def wait(self, lane: str | None = None, timeout_s: float = 60.0) -> bool:
        """Block until the lane's (or every) live task has finished and its callbacks ran. For closing
        a dialog or the app, and for tests; True when everything finished in time."""
        deadline = time.monotonic() + timeout_s
        while self.busy(lane):
            futures = [t.future for t in self.live_tasks(lane) if t.future is not None]
            wait_for_futures(futures, timeout=max(0.0, min(0.05, deadline - time.monotonic())))
            self.deliver()
            if time.monotonic() >= deadline:
                return not self.busy(lane)
        return True

    def shutdown(self, timeout_s: float = 15.0) -> None:
        """Cancel everything, let running calls reach a stop point, and end the lanes' threads."""
        for task in list(self._tasks.values()):
            task.cancel()
        self.wait(timeout_s=timeout_s)
        self._closed = True
        for executor in self._lanes.values():
            executor.shutdown(wait=False, cancel_futures=True)
        self._timer.stop()

    # -- GUI thread, internal --------------------------------------------------------------------------------

    def _finish(self, task: Task, kind: str, payload: tuple) -> None:
        if kind == _DONE and not task.superseded:
            if task.on_done is not None:
                _call(task.on_done, payload[0])
        elif kind == _ERROR and not task.superseded:
            if task.on_error is not None:
                _call(task.on_error, payload[0])
        elif task.on_cancelled is not None:
            _call(task.on_cancelled)


def _run_task(context: TaskContext, fn: Callable[..., Any], args: tuple) -> None:
    """The lane thread's side: plain data in, plain data out through the queue."""
    events = context._events
    try:
        if context.cancelled():
            raise TaskCancelled
        result = fn(context, *args)
    except TaskCancelled:
        events.put((context.task_id, _CANCELLED, ()))
    except Exception as exc:  # reaches the window's status line, never kills the lane's thread
        log.exception("background task %s failed", getattr(fn, "__qualname__", fn))
        events.put((context.task_id, _ERROR, (_message(exc),)))
    else:
        events.put((context.task_id, _CANCELLED if context.cancelled() else _DONE, (result,)))


def _lower_priority() -> None:
    """Raise this thread's niceness (Linux only: elsewhere setpriority would apply to the whole process)."""
    if sys.platform.startswith("linux"):
        try:
            thread = threading.get_native_id()
            niceness = os.getpriority(os.PRIO_PROCESS, thread) + BACKGROUND_NICENESS
            os.setpriority(os.PRIO_PROCESS, thread, niceness)
        except OSError as exc:  # a sandbox may forbid it: the work still runs, only less politely
            log.debug("could not lower the priority of a background thread: %s", exc)


def _message(exc: Exception) -> str:
    from musictagger.errors import MusictaggerError

    # Our own errors are written for users; anything else names its type so a bug report says what broke.
    return str(exc) if isinstance(exc, MusictaggerError) else f"{type(exc).__name__}: {exc}"


def _call(callback: Callable[..., Any], *payload: Any) -> None:
    started, cpu_started = time.perf_counter(), time.thread_time()
    try:
        callback(*payload)
    except Exception:  # one bad callback must not stop the others' results
        log.exception("callback %s failed", getattr(callback, "__qualname__", callback))
    took = time.perf_counter() - started
    if took > SLOW_CALLBACK_S:  # the window froze this long: the log names who, so it can be fixed
        # CPU time far below the wall time: the GUI thread was waiting (for the GIL or a CPU), not working.
        log.warning(
            "slow GUI callback %s: %.0f ms (%.0f ms of it on the CPU)",
            getattr(callback, "__qualname__", callback),
            took * 1000,
            (time.thread_time() - cpu_started) * 1000,
        )


def _refuse_qt(fn: Callable[..., Any], args: tuple) -> None:
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, QObject) or any(isinstance(arg, QObject) for arg in args):
        raise TypeError("a background task gets plain data only, never a Qt object (see gui/runner.py)")
    if inspect.isfunction(fn) and fn.__closure__:
        for cell in fn.__closure__:
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if isinstance(value, QObject):
                raise TypeError("a background task's closure holds a Qt object: pass plain data instead")
