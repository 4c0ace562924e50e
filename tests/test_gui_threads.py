"""The threading rules of the app, under stress: garbage is collected on the GUI thread only, and no Qt
object ever reaches a worker thread.

The hang these tests guard against (issue 11): Python's cyclic collector, triggered by an allocation on
the library-analysis thread (a session commit), collected a dropped window's menu wrapper there; Shiboken
then deleted a Qt object off the GUI thread and the two threads deadlocked (the GIL against a Qt mutex).
"""

from __future__ import annotations

import gc
import shutil
import threading
import time

import pytest
from conftest import DATA, METAL
from helpers import close_window, open_window, wait_for_table
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog, QMainWindow, QMenu, QVBoxLayout, QWidget

from musictagger.gui.runner import Runner

ROUNDS_AT_LEAST = 150


def _cyclic_window_garbage() -> None:
    """Windows, menus and dialogs in reference cycles: only the cyclic collector can free them."""
    window = QMainWindow()
    menu = window.menuBar().addMenu("&File")
    action = menu.addAction("Close")
    action.triggered.connect(lambda: window.close())  # the slot holds the window: a cycle
    popup = QMenu()
    popup.addAction("Remove").triggered.connect(lambda: popup.close())
    window.popup = popup
    popup.owner = window
    dialog = QDialog()
    QVBoxLayout(dialog).addWidget(QWidget())
    dialog.partner = window
    window.dialog = dialog


@pytest.mark.timeout(240)
def test_gc_stays_on_the_gui_thread_while_windows_come_and_go_during_analysis(qtbot, tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    for index in range(6):  # real tracks: the analysis commits each result as it lands
        shutil.copy(METAL if index % 2 else DATA / "audio" / "tagged.ogg", music / f"{index:02d} track.ogg")
    win = open_window(qtbot, tmp_path)
    gui_thread = threading.get_ident()
    off_thread: list[str] = []

    def watch(phase: str, _info: dict) -> None:
        if phase == "start" and threading.get_ident() != gui_thread:
            off_thread.append(threading.current_thread().name)

    gc.callbacks.append(watch)
    try:
        win.add_folders([music])
        rounds = 0
        deadline = time.monotonic() + 180
        while (win.library_worker.is_busy() or rounds < ROUNDS_AT_LEAST) and time.monotonic() < deadline:
            _cyclic_window_garbage()
            rounds += 1
            qtbot.wait(5)  # the event loop runs: results land, the GUI thread's collector gets its turn
        assert not win.library_worker.is_busy(), "the analysis did not finish"
        wait_for_table(qtbot, win.library_model)
        gc.collect()
    finally:
        gc.callbacks.remove(watch)
        close_window(win)
    assert rounds >= ROUNDS_AT_LEAST
    assert win.library_model.rowCount() == 6
    assert not off_thread, f"the garbage collector ran on worker threads: {sorted(set(off_thread))}"


def test_the_runner_refuses_qt_objects_for_worker_threads(qtbot):
    runner = Runner()
    widget = QWidget()
    qtbot.addWidget(widget)
    with pytest.raises(TypeError, match="Qt object"):
        runner.submit("test", lambda _ctx, w: w, widget)
    with pytest.raises(TypeError, match="Qt object"):
        runner.submit("test", widget.setWindowTitle, "x")
    with pytest.raises(TypeError, match="closure"):
        runner.submit("test", lambda _ctx: widget.windowTitle())


def test_the_runner_delivers_events_and_results_on_the_gui_thread(qtbot):
    runner = Runner()
    gui_thread = threading.get_ident()
    seen: list[tuple[str, int, bool]] = []
    results: list[int] = []

    def work(ctx, count: int) -> int:
        for step in range(count):
            ctx.report("step", step)
        return threading.get_ident()

    runner.submit(
        "test",
        work,
        3,
        on_event={"step": lambda step: seen.append(("step", step, threading.get_ident() == gui_thread))},
        on_done=results.append,
    )
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert seen == [("step", 0, True), ("step", 1, True), ("step", 2, True)]
    assert results[0] != gui_thread  # the work itself ran on the lane's thread
    runner.shutdown()


def test_a_superseded_task_is_cancelled_and_its_results_dropped(qtbot):
    runner = Runner()
    started = threading.Event()
    outcome: list[str] = []

    def slow(ctx) -> str:
        started.set()
        while True:
            ctx.check()
            time.sleep(0.01)

    runner.submit(
        "lane",
        slow,
        on_done=lambda _r: outcome.append("old done"),
        on_cancelled=lambda: outcome.append("old cancelled"),
    )
    assert started.wait(5)
    runner.submit("lane", lambda _ctx: "new", on_done=outcome.append, supersede=True)
    qtbot.waitUntil(lambda: "new" in outcome, timeout=5000)
    assert outcome == ["old cancelled", "new"]
    runner.shutdown()


def test_an_error_in_a_task_reaches_its_callback_and_the_lane_goes_on(qtbot):
    runner = Runner()
    errors: list[str] = []
    results: list[int] = []

    def broken(_ctx):
        raise ValueError("bad input")

    runner.submit("lane", broken, on_error=errors.append)
    runner.submit("lane", lambda _ctx: 42, on_done=results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert errors == ["ValueError: bad input"]
    assert results == [42]
    runner.shutdown()


def test_pause_holds_a_task_at_its_stop_point_and_resume_releases_it(qtbot):
    runner = Runner()
    steps: list[int] = []

    def loop(ctx) -> int:
        for step in range(1000):
            if ctx.should_stop():
                return step
            ctx.report("step", step)
            time.sleep(0.002)
        return 1000

    results: list[int] = []
    task = runner.submit("lane", loop, on_event={"step": steps.append}, on_done=results.append)
    qtbot.waitUntil(lambda: len(steps) > 3, timeout=5000)
    task.set_paused(True)
    qtbot.waitUntil(lambda: task.holding, timeout=5000)
    held = len(steps)
    qtbot.wait(200)
    runner.deliver()
    assert len(steps) <= held + 1  # at most the step that was on its way when it stopped
    task.cancel()
    qtbot.waitUntil(lambda: not runner.busy(), timeout=5000)
    assert results == []  # a cancelled task's result is not delivered
    runner.shutdown()


def test_runner_objects_never_reach_the_lane_threads():
    """The worker side of the runner is plain Python: the context has no Qt object in it."""
    from musictagger.gui.runner import TaskContext

    context = TaskContext(1, __import__("queue").SimpleQueue(), threading.Event())
    assert not any(isinstance(value, QObject) for value in vars(context).values())


def test_qt_calls_leave_the_reference_count_of_none_alone(qtbot):
    """PySide6 6.12.0 on Python 3.11 dropped a reference to None on every call of a method returning
    nothing: after a few thousand such calls the interpreter aborted ("deallocating None"). It crashed the
    stall benchmark when 1,000 rows were selected; requirements.txt pins a release without the bug."""
    import sys

    from PySide6.QtWidgets import QLabel

    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
        label.clear()
    assert abs(sys.getrefcount(None) - before) < 200


def test_a_task_submitted_after_shutdown_is_not_run(qtbot):
    runner = Runner()
    runner.shutdown()
    ran: list[bool] = []
    task = runner.submit("lane", lambda _ctx: ran.append(True), on_done=ran.append)
    qtbot.wait(50)
    assert task.finished and ran == [] and not runner.busy()


def test_lane_threads_run_at_a_lower_priority_than_the_gui_thread(qtbot):
    import os
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("per-thread niceness is Linux's")
    runner = Runner()
    results: list[int] = []
    runner.submit(
        "lane",
        lambda _ctx: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()),
        on_done=results.append,
    )
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    gui = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert results[0] == min(19, gui + 10)
    runner.shutdown()
