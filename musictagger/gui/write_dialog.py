"""The write dialog: the dry run first, then "Write N files" in the background, then what happened.

How to plug in (MainWindow)::

    dialog = WriteDialog(library, vocabulary, track_ids, policy, parent=window, runner=window.runner)
    dialog.batch_written.connect(window.refresh_library)   # batch id; also emitted after an undo
    dialog.open()

Planning (reads every file's tags), writing and undo run on the runner's ``write`` lane (gui/runner.py):
one lane, so writes and undos never overlap (Picard serialises saves the same way). Only plain data goes
to the lane (the Library, track ids, plans, the policy) and comes back (plans, a BatchReport); only the
GUI thread touches widgets. Closing the dialog while writing waits for the current file: a write is never
cut half way (each file is replaced atomically anyway, and the journal stays consistent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QCloseEvent, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from musictagger.gui.runner import Runner, Task
from musictagger.library.db import Library
from musictagger.library.policy import WritePolicy
from musictagger.library.writing import BatchReport, PlannedWrite, UndoError, format_diff
from musictagger.services import writes
from musictagger.taxonomy import Vocabulary

LANE = "write"


# The dialog's three steps are the services the CLI's ``tag --write`` and ``undo`` call (services/writes.py),
# so the app and the command line write the same bytes for the same library, reviews and settings.


def _plan_task(ctx, library, vocabulary, track_ids, policy) -> tuple[list[PlannedWrite], str]:
    """The plans and their diff text: formatting 1,000 files' changes is 50 ms, worker work too."""
    plans = writes.plan_write(
        library,
        vocabulary,
        track_ids,
        policy,
        on_progress=lambda done, total: ctx.report("progress", done, total),
        should_stop=ctx.cancelled,
    )
    return plans, format_diff(plans)


def _write_task(ctx, library, plans, policy, description) -> BatchReport:
    def progress(done: int, total: int) -> None:
        ctx.report("progress", done, total)

    return writes.write(library, plans, policy, description, on_progress=progress)


def _undo_task(_ctx, library) -> BatchReport:
    try:
        return writes.undo(library)
    except UndoError as exc:  # nothing to undo: the report carries the reason
        return BatchReport(batch_id=None, failed=[("", str(exc))])


def describe_report(report: BatchReport, verb: str = "Wrote") -> str:
    lines = [
        f"{verb} {report.written} file{'s' if report.written != 1 else ''}, {len(report.failed)} failed."
    ]
    lines += [f"  {path}: {cause}" for path, cause in report.failed]
    return "\n".join(lines)


def undo_last_batch(
    runner: Runner,
    library: Library,
    parent: QWidget | None = None,
    *,
    ask: bool = True,
    on_done: Callable[[BatchReport], object] | None = None,
) -> Task | None:
    """Undo the latest write batch in the background after the user confirms; None when cancelled.

    ``on_done(report)`` runs on the GUI thread once every file is back; nothing to undo and failures are
    told in a message box.
    """
    if ask:
        answer = QMessageBox.question(
            parent,
            "Undo last batch",
            "Write back the tags every file had before the last batch?\nFiles changed since are left alone.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return None

    def undone(report: BatchReport) -> None:
        if report.batch_id is None:  # there was nothing to undo: the report carries the reason
            QMessageBox.information(parent, "Undo last batch", report.failed[0][1])
            return
        if report.failed:
            QMessageBox.warning(parent, "Undo last batch", describe_report(report, "Restored"))
        if on_done is not None:
            on_done(report)

    return runner.submit(
        LANE,
        _undo_task,
        library,
        on_done=undone,
        on_error=lambda message: QMessageBox.warning(parent, "Undo last batch", message),
    )


class WriteDialog(QDialog):
    """Shows what writing the selected tracks' tags would change, then writes on request."""

    planned = Signal(int)  # files to change
    batch_written = Signal(object)  # the batch id (None when nothing was written), after write or undo
    finished_writing = Signal(object)  # the BatchReport

    def __init__(
        self,
        library: Library,
        vocabulary: Vocabulary,
        track_ids: Sequence[int],
        policy: WritePolicy,
        parent: QWidget | None = None,
        *,
        runner: Runner | None = None,
    ):
        super().__init__(parent)
        self.runner = runner if runner is not None else Runner(self)
        self.setWindowTitle("Write tags")
        self.resize(760, 480)
        self.library = library
        self.vocabulary = vocabulary
        self.track_ids = list(track_ids)
        self.policy = policy
        self.plans: list[PlannedWrite] = []
        self.report: BatchReport | None = None
        self._busy = False

        layout = QVBoxLayout(self)
        self.summary = QLabel("Reading the files' tags…")
        self.diff_view = QPlainTextEdit()
        self.diff_view.setReadOnly(True)
        self.diff_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.diff_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        layout.addWidget(self.summary)
        layout.addWidget(self.diff_view, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.result_label)

        self.buttons = QDialogButtonBox()
        self.write_button = QPushButton("Write")
        self.write_button.setEnabled(False)
        self.undo_button = QPushButton("Undo last batch")
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.buttons.addButton(self.write_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.undo_button, QDialogButtonBox.ButtonRole.ResetRole)
        # AcceptRole would close the dialog: the buttons are wired one by one instead.
        self.write_button.clicked.connect(self.write)
        self.undo_button.clicked.connect(self.undo_last)
        self.close_button.clicked.connect(self.reject)
        layout.addWidget(self.buttons)
        self._start(_plan_task, (library, vocabulary, self.track_ids, policy), self._planned)

    # -- steps ------------------------------------------------------------------------------------

    def _start(self, task, args: tuple, on_success) -> None:
        self._busy = True
        self.runner.submit(
            LANE,
            task,
            *args,
            on_event={"progress": self._on_progress},
            on_done=on_success,
            on_error=self._on_failed,
        )

    @property
    def busy(self) -> bool:
        """A plan or write is running; its result has not been handled yet."""
        return self._busy

    def files_to_write(self) -> int:
        return sum(1 for plan in self.plans if plan.error is None and plan.new)

    @Slot(object)
    def _planned(self, planned: tuple[list[PlannedWrite], str]) -> None:
        plans, diff = planned
        self._busy = False
        self.plans = plans
        count = self.files_to_write()
        self.diff_view.setPlainText(diff or "Nothing to change: every file already has these tags.")
        self.summary.setText(
            f"Dry run for {len(self.track_ids)} selected track{'s' if len(self.track_ids) != 1 else ''}: "
            "nothing has been written yet."
        )
        self.write_button.setText(f"Write {count} file{'s' if count != 1 else ''}")
        self.write_button.setEnabled(count > 0)
        self.planned.emit(count)

    @Slot()
    def write(self) -> None:
        if self.busy or not self.files_to_write():
            return
        self.write_button.setEnabled(False)
        self.undo_button.setEnabled(False)
        self.progress.setRange(0, self.files_to_write())
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.summary.setText("Writing…")
        description = f"GUI: {self.files_to_write()} file(s)"
        self._start(_write_task, (self.library, list(self.plans), self.policy, description), self._written)

    @Slot(object)
    def _written(self, report: BatchReport) -> None:
        self._busy = False
        self.report = report
        self.progress.setValue(self.progress.maximum())
        self.summary.setText("Done.")
        self.result_label.setText(describe_report(report))
        self.undo_button.setEnabled(True)
        self.finished_writing.emit(report)
        self.batch_written.emit(report.batch_id)

    @Slot()
    def undo_last(self, *, ask: bool = True) -> None:
        if self.busy:
            return

        def undone(report: BatchReport) -> None:
            self.result_label.setText(describe_report(report, "Restored"))
            self.batch_written.emit(report.batch_id)

        undo_last_batch(self.runner, self.library, self, ask=ask, on_done=undone)

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._busy = False
        self.summary.setText("Failed.")
        self.result_label.setText(message)
        self.undo_button.setEnabled(True)

    # -- closing ----------------------------------------------------------------------------------

    def wait_idle(self, ms: int = 60_000) -> None:
        self.runner.wait(LANE, ms / 1000)

    def done(self, result: int) -> None:
        self.wait_idle()  # a write in flight finishes its file and the journal before the dialog goes
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.wait_idle()
        super().closeEvent(event)
