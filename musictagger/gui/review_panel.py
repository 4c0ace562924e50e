"""Side panel to review the suggestions before writing: accept, reject or edit genres and moods.

How to plug in (MainWindow)::

    from musictagger.gui.review_panel import ReviewPanel

    self.review_panel = ReviewPanel(library, vocabulary, prefs.selection_policy())
    dock = QDockWidget("Review", self); dock.setObjectName("reviewDock"); dock.setWidget(self.review_panel)
    self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    library_table.selection_changed.connect(self.review_panel.show_tracks)   # list[int] of track ids
    self.review_panel.review_changed.connect(library_table.refresh_rows)     # list[int]

Decisions are stored at once in the index (library/review.py), so the write dialog and the CLI see them.
Per suggestion: ✓ adds it to the field's accepted values, ✗ drops it (with no earlier decision, ✗ keeps
the other suggestions); the text box sets the values outright (any text; the vocabulary's names are
offered); "Accept all suggestions" accepts each selected track's own suggestions; "Reset" forgets.
All work runs on the GUI thread: each action is one small query on the index.
"""

from __future__ import annotations

import os
import re

from PySide6.QtCore import QStringListModel, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCompleter,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from musictagger.library.db import Library
from musictagger.library.policy import LABEL_FIELDS
from musictagger.library.review import Review, clear_reviews, reviews_for, set_review, suggestions_for
from musictagger.library.schema import Track
from musictagger.tags import TagReadError, read_tags
from musictagger.taxonomy import SelectionPolicy, Vocabulary

_SPLIT = re.compile(r"[;,]")


def parse_values(text: str, vocabulary: Vocabulary) -> list[str]:
    """What a user typed, split on ; or , with known labels in their canonical spelling."""
    parts = [" ".join(part.split()) for part in _SPLIT.split(text)]
    return [vocabulary.canonical_name(part) or part for part in parts if part]


class FieldReview(QWidget):
    """One field (genre or mood): suggestion rows with ✓ / ✗, the decision, and a text box."""

    edited = Signal(str, list)  # field, values typed
    accepted_one = Signal(str, str)  # field, label
    rejected_one = Signal(str, str)
    reset = Signal(str)

    def __init__(self, field: str, vocabulary: Vocabulary, parent: QWidget | None = None):
        super().__init__(parent)
        self.field = field
        self.vocabulary = vocabulary
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        heading = QLabel(field.capitalize())
        heading.setObjectName("panelHeading")
        layout.addWidget(heading)
        self._grid = QGridLayout()
        self._grid.setColumnStretch(1, 1)
        layout.addLayout(self._grid)
        self.decision = QLabel()
        self.decision.setWordWrap(True)
        layout.addWidget(self.decision)
        row = QHBoxLayout()
        self.edit = QLineEdit()
        self.edit.setObjectName(f"{field}Edit")
        self.edit.setClearButtonEnabled(True)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Forget the decision: the write policy decides")
        row.addWidget(self.edit, 1)
        row.addWidget(self.reset_button)
        layout.addLayout(row)
        self._shown_text = ""
        self.accept_buttons: dict[str, QPushButton] = {}
        self.reject_buttons: dict[str, QPushButton] = {}
        self._build_completer()
        self.edit.editingFinished.connect(self._edit_finished)
        self.reset_button.clicked.connect(lambda: self.reset.emit(self.field))

    def _build_completer(self) -> None:
        # The completer works on the value being typed (after the last ; or ,), not the whole line, so
        # it is attached to the line edit by hand rather than with setCompleter.
        names = sorted(label.name for label in self.vocabulary.in_category(self.field))
        self.completer = QCompleter(QStringListModel(names, self), self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setWidget(self.edit)
        self.completer.activated[str].connect(self._insert_completion)
        self.edit.textEdited.connect(self._complete_last_value)

    def _complete_last_value(self, text: str) -> None:
        prefix = _SPLIT.split(text)[-1].strip()
        self.completer.setCompletionPrefix(prefix)
        if prefix:
            self.completer.complete()
        else:
            self.completer.popup().hide()

    def _insert_completion(self, name: str) -> None:
        head = _SPLIT.split(self.edit.text())[:-1]
        self.edit.setText("; ".join([part.strip() for part in head if part.strip()] + [name]))

    def set_state(
        self,
        suggestions: list[tuple[str, float]],
        values: list[str] | None,
        decision: str,
        placeholder: str,
    ) -> None:
        """Rows for `suggestions`; `values` the field's decided values (None: no single answer)."""
        while self._grid.count():
            self._grid.takeAt(0).widget().deleteLater()
        self.accept_buttons.clear()
        self.reject_buttons.clear()
        chosen = {v.casefold() for v in values or []}
        for row, (label, score) in enumerate(suggestions):
            bar = QProgressBar()
            bar.setRange(0, 100)
            bar.setValue(round(score * 100))
            bar.setTextVisible(False)
            mark = QLabel(label + (" ✓" if label.casefold() in chosen else ""))
            percent = QLabel(f"{score:.0%}")
            percent.setObjectName("score")
            accept = QPushButton("✓")
            accept.setToolTip(f"Accept {label}")
            reject = QPushButton("✗")
            reject.setToolTip(f"Reject {label}")
            for button in (accept, reject):
                button.setFixedWidth(28)
            accept.clicked.connect(lambda _=False, name=label: self.accepted_one.emit(self.field, name))
            reject.clicked.connect(lambda _=False, name=label: self.rejected_one.emit(self.field, name))
            self.accept_buttons[label], self.reject_buttons[label] = accept, reject
            for column, widget in enumerate((mark, bar, percent, accept, reject)):
                self._grid.addWidget(widget, row, column)
        if not suggestions:
            self._grid.addWidget(QLabel("— no suggestion"), 0, 0)
        self.decision.setText(decision)
        self._shown_text = "; ".join(values) if values else ""
        self.edit.setText(self._shown_text)
        self.edit.setPlaceholderText(placeholder)

    def set_values_text(self, text: str) -> None:
        """Type `text` and finish editing, as a user would (tests and shortcuts)."""
        self.edit.setText(text)
        self._edit_finished()

    def _edit_finished(self) -> None:
        text = self.edit.text()
        if text == self._shown_text:  # focus left without a change: not a decision
            return
        self._shown_text = text
        self.edited.emit(self.field, parse_values(text, self.vocabulary))


class ReviewPanel(QWidget):
    """Review of the selected tracks' genre and mood suggestions, stored in the library index."""

    review_changed = Signal(list)  # the track ids whose review changed

    def __init__(
        self,
        library: Library,
        vocabulary: Vocabulary,
        selection: SelectionPolicy | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.library = library
        self.vocabulary = vocabulary
        self.selection = selection or SelectionPolicy()
        self.track_ids: list[int] = []
        self._suggestions: dict[int, dict[str, list[tuple[str, float]]]] = {}
        self._reviews: dict[int, dict[str, Review]] = {}

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        self.title = QLabel("No track selected")
        self.title.setObjectName("trackTitle")
        self.title.setWordWrap(True)
        self.in_file = QLabel()
        self.in_file.setWordWrap(True)
        self.in_file.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.title)
        layout.addWidget(self.in_file)
        self.fields: dict[str, FieldReview] = {}
        for field in LABEL_FIELDS:
            widget = FieldReview(field, vocabulary)
            widget.edited.connect(self._on_edited)
            widget.accepted_one.connect(self._on_accept_one)
            widget.rejected_one.connect(self._on_reject_one)
            widget.reset.connect(self._on_reset)
            self.fields[field] = widget
            layout.addWidget(widget)
        self.accept_all_button = QPushButton("Accept all suggestions")
        self.accept_all_button.setToolTip("Each selected track gets its own suggestions, genre and mood")
        self.accept_all_button.clicked.connect(self.accept_all)
        layout.addWidget(self.accept_all_button)
        layout.addStretch(1)
        self.setMinimumWidth(240)
        self.show_tracks([])

    @property
    def genre(self) -> FieldReview:
        return self.fields["genre"]

    @property
    def mood(self) -> FieldReview:
        return self.fields["mood"]

    def set_selection_policy(self, selection: SelectionPolicy) -> None:
        self.selection = selection
        self.show_tracks(self.track_ids)

    # -- showing ----------------------------------------------------------------------------------

    @Slot(list)
    def show_tracks(self, track_ids: list[int]) -> None:
        self.track_ids = list(dict.fromkeys(int(t) for t in track_ids))
        ids = self.track_ids
        with self.library.session() as session:
            self._suggestions = suggestions_for(session, ids, self.selection.min_score)
            self._reviews = reviews_for(session, ids)
            tracks = [session.get(Track, t) for t in ids[:1]]
        enabled = bool(ids)
        self.accept_all_button.setEnabled(enabled)
        for widget in self.fields.values():
            widget.setEnabled(enabled)
        if not ids:
            self.title.setText("No track selected")
            self.in_file.setText("")
        elif len(ids) == 1 and tracks[0] is not None:
            track = tracks[0]
            self.title.setText(track.title or os.path.basename(track.path))
            self.in_file.setText(self._file_summary(track))
        else:
            self.title.setText(f"{len(ids)} tracks")
            self.in_file.setText("")
        for field, widget in self.fields.items():
            self._show_field(field, widget)

    def _file_summary(self, track: Track) -> str:
        # Read from the file itself: the index may be stale if something else tagged it since the scan.
        try:
            tags = read_tags(os.fsdecode(track.path_key))
        except TagReadError:
            tags = track.file_tags or {}
        lines = [
            f"In the file — {field}: {'; '.join(tags.get(field, [])) or '(none)'}" for field in LABEL_FIELDS
        ]
        return "\n".join(lines)

    def _shown_suggestions(self, track_id: int, field: str) -> list[tuple[str, float]]:
        return self._suggestions.get(track_id, {}).get(field, [])[: self.selection.top_n]

    def _show_field(self, field: str, widget: FieldReview) -> None:
        ids = self.track_ids
        if len(ids) == 1:
            suggestions = self._shown_suggestions(ids[0], field)
            review = self._reviews.get(ids[0], {}).get(field)
            values = self._decided_values(ids[0], field)
            widget.set_state(suggestions, values, _describe(review), "type values; ; between them")
            return
        # Several tracks: each suggestion once, with its mean score over the tracks that have it.
        scores: dict[str, list[float]] = {}
        for track_id in ids:
            for label, score in self._shown_suggestions(track_id, field):
                scores.setdefault(label, []).append(score)
        merged = sorted(((label, sum(s) / len(s)) for label, s in scores.items()), key=lambda item: -item[1])
        statuses = {self._reviews.get(t, {}).get(field, None) for t in ids}
        summary = (
            f"{len(ids)} tracks; " + ", ".join(sorted({r.status if r else "not reviewed" for r in statuses}))
            if ids
            else ""
        )
        widget.set_state(merged, None, summary, f"set for all {len(ids)} tracks" if ids else "")

    def _decided_values(self, track_id: int, field: str) -> list[str] | None:
        """The values a review fixes for the field; None when there is no review or it was rejected."""
        review = self._reviews.get(track_id, {}).get(field)
        if review is None or review.status == "rejected":
            return None
        if review.values is None:
            return [label for label, _ in self._shown_suggestions(track_id, field)]
        return list(review.values)

    # -- deciding ---------------------------------------------------------------------------------

    @Slot()
    def accept_all(self) -> None:
        self._store(
            lambda session: [set_review(session, self.track_ids, f, None, "accepted") for f in LABEL_FIELDS]
        )

    def _on_edited(self, field: str, values: list[str]) -> None:
        self._store(lambda session: set_review(session, self.track_ids, field, values, "edited"))

    def _on_reset(self, field: str) -> None:
        self._store(lambda session: clear_reviews(session, self.track_ids, field))

    def _on_accept_one(self, field: str, label: str) -> None:
        def change(session) -> None:
            for track_id in self.track_ids:
                values = self._decided_values(track_id, field) or []
                if label.casefold() not in {v.casefold() for v in values}:
                    values.append(label)
                set_review(session, [track_id], field, values, self._status_for(track_id, field, values))

        self._store(change)

    def _on_reject_one(self, field: str, label: str) -> None:
        def change(session) -> None:
            for track_id in self.track_ids:
                values = self._decided_values(track_id, field)
                if values is None:  # no decision yet: rejecting one keeps the other suggestions
                    values = [name for name, _ in self._shown_suggestions(track_id, field)]
                kept = [v for v in values if v.casefold() != label.casefold()]
                status = self._status_for(track_id, field, kept) if kept else "rejected"
                set_review(session, [track_id], field, kept or None, status)

        self._store(change)

    def _status_for(self, track_id: int, field: str, values: list[str]) -> str:
        """``accepted`` when every value is one of the track's suggestions, ``edited`` otherwise."""
        suggested = {label.casefold() for label, _ in self._suggestions.get(track_id, {}).get(field, [])}
        return "accepted" if all(v.casefold() in suggested for v in values) else "edited"

    def _store(self, change) -> None:
        if not self.track_ids:
            return
        with self.library.session() as session:
            change(session)
            session.commit()
        ids = list(self.track_ids)
        self.show_tracks(ids)
        self.review_changed.emit(ids)


def _describe(review: Review | None) -> str:
    if review is None:
        return "Not reviewed: the write policy decides."
    if review.status == "rejected":
        return "Rejected: the file keeps its own values."
    if review.values is None:
        return "Accepted: the track's suggestions will be written."
    return f"{review.status.capitalize()}: {'; '.join(review.values)}"
