"""Side panel to review the suggestions before writing: accept, reject or edit genres and moods.

How to plug in (MainWindow)::

    from musictagger.gui.review_panel import ReviewPanel

    self.review_panel = ReviewPanel(library, vocabulary, prefs.selection_policy(), prefs.write_policy())
    dock = QDockWidget("Review", self); dock.setObjectName("reviewDock"); dock.setWidget(self.review_panel)
    self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    library_table.selection_changed.connect(self.review_panel.show_tracks)   # list[int] of track ids
    self.review_panel.review_changed.connect(library_table.refresh_rows)     # list[int]

Decisions are stored at once in the index (library/review.py), so the write dialog and the CLI see them.
Per suggestion: ✓ adds it to the field's accepted values, ✗ drops it (with no earlier decision, ✗ keeps
the other suggestions); the text box sets the values outright (any text; the vocabulary's names are
offered); "Accept all suggestions" accepts each selected track's own suggestions; "Reset" forgets.
For one track the panel says what a write would do with each field, by the write's own rules
(services/suggest.write_decision): a ✓ after a name marks a value the write takes (a confident
suggestion, or one the user accepted), and the line under the rows says what the field holds after the
write, against what the file holds now, or "no confident genre" where the write leaves the field alone.
A suggestion shown without ✓ is not written.
Loading a selection and storing a decision run on the runner's ``review`` lane (gui/runner.py), in
order: the panel hands over a ``ReviewState`` snapshot (plain data) and shows the one that comes back, so
a slow disk or a 10,000-track selection never freezes the window.
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

from musictagger.gui.runner import Runner, Task
from musictagger.library.db import Library
from musictagger.library.policy import LABEL_FIELDS, WritePolicy, resolve_field
from musictagger.library.review import Review
from musictagger.library.review_decisions import ReviewState, decide, load_review_state
from musictagger.services.suggest import write_decision, write_floor
from musictagger.taxonomy import SelectionPolicy, Vocabulary

LANE = "review"

_SPLIT = re.compile(r"[;,]")
# Suggestion rows shown per field: a large selection can hold every label of the vocabulary; the rest are
# counted ("and 12 more") and still accepted by "Accept all suggestions" or typed in the box.
MAX_ROWS = 12


def parse_values(text: str, vocabulary: Vocabulary) -> list[str]:
    """What a user typed, split on ; or , with known labels in their canonical spelling."""
    parts = [" ".join(part.split()) for part in _SPLIT.split(text)]
    return [vocabulary.canonical_name(part) or part for part in parts if part]


class _SuggestionRow:
    """One suggestion's widgets in the grid: name, bar, percentage, ✓ and ✗ (refilled, never rebuilt)."""

    def __init__(self, grid: QGridLayout, row: int):
        self.label = ""
        self.name = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setTextVisible(False)
        self.percent = QLabel()
        self.percent.setObjectName("score")
        self.accept = QPushButton("✓")
        self.reject = QPushButton("✗")
        for button in (self.accept, self.reject):
            button.setFixedWidth(28)
        self.widgets = (self.name, self.bar, self.percent, self.accept, self.reject)
        for column, widget in enumerate(self.widgets):
            grid.addWidget(widget, row, column)
            widget.setVisible(False)
            widget.ensurePolished()

    def show(self, label: str, score: float, written: bool) -> None:
        self.label = label
        self.name.setText(label + (" ✓" if written else ""))
        self.name.setToolTip(f"{label}: a write puts it in the file" if written else "")
        self.bar.setValue(round(score * 100))
        self.percent.setText(f"{score:.0%}")
        self.accept.setToolTip(f"Accept {label}")
        self.reject.setToolTip(f"Reject {label}")
        for widget in self.widgets:
            widget.setVisible(True)

    def hide(self) -> None:
        for widget in self.widgets:
            widget.setVisible(False)


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
        self._rows: list[_SuggestionRow] = []
        for _ in range(MAX_ROWS):  # made and polished now (5 ms), not on the first large selection
            self._add_row()
        self.none_label = QLabel()  # "— no suggestion", or how many more a large selection has
        layout.addWidget(self.none_label)
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
        written: list[str],
        decision: str,
        placeholder: str,
    ) -> None:
        """Rows for `suggestions` (the first ``MAX_ROWS``); `values` the field's decided values (None: no
        single answer), shown in the text box; `written` what a write puts in the field (marked ✓)."""
        chosen = {v.casefold() for v in written}
        shown = suggestions[:MAX_ROWS]
        # Rows are kept and refilled, never rebuilt: a new widget is polished against the app's style sheet
        # when it is first shown, about a millisecond each, so rebuilding 5 widgets per row on every
        # selection froze the window for 100-200 ms on a 1,000-track select-all.
        while len(self._rows) < len(shown):
            self._add_row()
        self.accept_buttons.clear()
        self.reject_buttons.clear()
        for row, (label, score) in zip(self._rows, shown, strict=False):
            row.show(label, score, label.casefold() in chosen)
            self.accept_buttons[label], self.reject_buttons[label] = row.accept, row.reject
        for row in self._rows[len(shown) :]:
            row.hide()
        hidden = len(suggestions) - len(shown)
        more = f"and {hidden} more" if hidden else ""
        self.none_label.setText(more if suggestions else "— no suggestion")
        self.none_label.setVisible(not suggestions or hidden > 0)
        self.decision.setText(decision)
        self._shown_text = "; ".join(values) if values else ""
        self.edit.setText(self._shown_text)
        self.edit.setPlaceholderText(placeholder)

    def is_being_edited(self) -> bool:
        """Whether the user is typing values not yet decided (a reload would throw their text away)."""
        return self.edit.hasFocus() or self.edit.text() != self._shown_text

    def _add_row(self) -> None:
        row = _SuggestionRow(self._grid, len(self._rows))
        row.accept.clicked.connect(lambda _=False, r=row: self.accepted_one.emit(self.field, r.label))
        row.reject.clicked.connect(lambda _=False, r=row: self.rejected_one.emit(self.field, r.label))
        self._rows.append(row)

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
    shown = Signal(list)  # the track ids now shown (after a selection or a decision was loaded)

    def __init__(
        self,
        library: Library,
        vocabulary: Vocabulary,
        selection: SelectionPolicy | None = None,
        write_policy: WritePolicy | None = None,
        parent: QWidget | None = None,
        *,
        runner: Runner | None = None,
    ):
        super().__init__(parent)
        self.library = library
        self.vocabulary = vocabulary
        self.selection = selection or SelectionPolicy()
        self.write_policy = write_policy or WritePolicy()
        self.runner = runner if runner is not None else Runner(self)
        self.state = ReviewState(())
        self._loading: Task | None = None

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
            widget.edited.connect(lambda name, values: self._decide("edit", name, values=values))
            widget.accepted_one.connect(lambda name, label: self._decide("accept_one", name, label=label))
            widget.rejected_one.connect(lambda name, label: self._decide("reject_one", name, label=label))
            widget.reset.connect(lambda name: self._decide("reset", name))
            self.fields[field] = widget
            layout.addWidget(widget)
        self.accept_all_button = QPushButton("Accept all suggestions")
        self.accept_all_button.setToolTip(
            "Each selected track gets its own confident suggestions, genre and mood, in place of the file's"
        )
        self.accept_all_button.clicked.connect(self.accept_all)
        layout.addWidget(self.accept_all_button)
        layout.addStretch(1)
        self.setMinimumWidth(240)
        self._render(self._views(self.state))

    @property
    def genre(self) -> FieldReview:
        return self.fields["genre"]

    @property
    def mood(self) -> FieldReview:
        return self.fields["mood"]

    @property
    def track_ids(self) -> list[int]:
        return list(self.state.track_ids)

    def set_policies(self, selection: SelectionPolicy, write_policy: WritePolicy) -> None:
        """What to show and what a write does, as the settings now say (after the settings dialog)."""
        self.selection, self.write_policy = selection, write_policy
        self.show_tracks(self.track_ids)

    def busy(self) -> bool:
        """A selection or a decision is being loaded or stored."""
        return self.runner.busy(LANE)

    # -- showing ----------------------------------------------------------------------------------

    @Slot(list)
    def show_tracks(self, track_ids: list[int]) -> None:
        """Show ``track_ids`` (loaded in the background; the newest selection wins)."""
        ids = list(dict.fromkeys(int(t) for t in track_ids))
        if self._loading is not None:  # an older selection: not wanted any more (decisions still are)
            self._loading.cancel()
            self._loading = None
        if not ids:
            self._render(self._views(ReviewState((), selection=self.selection)))
            return
        self._set_enabled(False)
        self._loading = self.runner.submit(
            LANE,
            _load,
            self.library,
            ids,
            self.selection,
            self.vocabulary,
            self.write_policy,
            on_done=self._loaded,
            on_error=self._on_failed,
        )

    def refresh(self, track_id: int) -> None:
        """Read the shown track again after its analysis changed (the track view's full analysis was
        kept), unless another selection is shown or the user is typing in one of its fields."""
        if list(self.state.track_ids) != [track_id] or self._loading is not None:
            return
        if any(widget.is_being_edited() for widget in self.fields.values()):
            return
        self.show_tracks([track_id])

    def _loaded(self, shown: tuple[ReviewState, dict[str, FieldView]]) -> None:
        self._loading = None
        self._render(shown)

    def _render(self, shown: tuple[ReviewState, dict[str, FieldView]]) -> None:
        state, views = shown
        self.state = state
        ids = state.track_ids
        self._set_enabled(bool(ids))
        if not ids:
            self.title.setText("No track selected")
            self.in_file.setText("")
        elif len(ids) == 1:
            self.title.setText(state.first_title)
            self.in_file.setText(
                "\n".join(
                    f"In the file — {field}: {'; '.join(state.first_file_values.get(field, [])) or '(none)'}"
                    for field in LABEL_FIELDS
                )
            )
        else:
            self.title.setText(f"{len(ids)} tracks")
            self.in_file.setText("")
        for field, widget in self.fields.items():
            widget.set_state(*views[field])
        self.shown.emit(list(ids))

    def _set_enabled(self, enabled: bool) -> None:
        self.accept_all_button.setEnabled(enabled)
        for widget in self.fields.values():
            widget.setEnabled(enabled)

    def _on_failed(self, message: str) -> None:
        self.title.setText("Could not read the review")
        self.in_file.setText(message)

    # -- deciding ---------------------------------------------------------------------------------

    @Slot()
    def accept_all(self) -> None:
        self._decide("accept_all")

    def _decide(self, decision: str, field: str | None = None, **details) -> None:
        """Store a decision in the background (in order with the others), then show the stored state."""
        if not self.state.track_ids:
            return
        self._set_enabled(False)
        self.runner.submit(
            LANE,
            _decide,
            self.library,
            self.state,
            decision,
            field,
            details,
            self.vocabulary,
            self.write_policy,
            on_done=self._decided,
            on_error=self._on_failed,
        )

    def _decided(self, shown: tuple[ReviewState, dict[str, FieldView]]) -> None:
        self._render(shown)
        self.review_changed.emit(list(shown[0].track_ids))

    def _views(self, state: ReviewState) -> tuple[ReviewState, dict[str, FieldView]]:
        return _with_views(state, self.vocabulary, self.write_policy)


# What one field's rows show: (suggestions with scores, decided values or None, the values a write puts,
# decision, placeholder).
FieldView = tuple[list[tuple[str, float]], list[str] | None, list[str], str, str]


def _load(
    _ctx,
    library: Library,
    track_ids: list[int],
    selection: SelectionPolicy,
    vocabulary: Vocabulary,
    policy: WritePolicy,
):
    floor = write_floor(policy, vocabulary)
    return _with_views(load_review_state(library, track_ids, selection, floor), vocabulary, policy)


def _decide(
    _ctx,
    library: Library,
    state: ReviewState,
    decision: str,
    field: str | None,
    details: dict,
    vocabulary: Vocabulary,
    policy: WritePolicy,
):
    return _with_views(decide(library, state, decision, field, **details), vocabulary, policy)


def _with_views(
    state: ReviewState, vocabulary: Vocabulary, policy: WritePolicy
) -> tuple[ReviewState, dict[str, FieldView]]:
    """The state and what each field shows, worked out on the worker: merging a 1,000-track selection's
    suggestions is 10+ ms of Python per field, which the GUI thread only has to display."""
    return state, {field: field_view(state, field, vocabulary, policy) for field in LABEL_FIELDS}


def field_view(state: ReviewState, field: str, vocabulary: Vocabulary, policy: WritePolicy) -> FieldView:
    ids = state.track_ids
    if not ids:
        return [], None, [], "", ""
    if len(ids) == 1:
        track_id = ids[0]
        review = state.review(track_id, field)
        scored = state.all_suggestions(track_id, field)
        mode, written = write_decision(field, scored, review, policy, vocabulary)
        written = () if mode == "skip" else written  # a skipped field keeps the file's values
        suggestions = state.shown_suggestions(track_id, field)
        # A value the write takes under the display threshold or past the top N is shown too: a ✓ must
        # never mark a row the user cannot see, nor a write put in what the panel does not show.
        shown = {label.casefold() for label, _ in suggestions}
        wanted = {value.casefold() for value in written}
        suggestions += [
            (label, score)
            for label, score in scored
            if label.casefold() in wanted and label.casefold() not in shown
        ]
        values = state.decided_values(track_id, field)
        current = state.first_file_values.get(field, [])
        copy = state.first_copy_values.get(field) if policy.from_copies else None
        describe = _describe(review, field, mode, list(written), current, vocabulary, copy)
        return suggestions, values, list(written), describe, "type values; ; between them"
    # Several tracks: each suggestion once, with its mean score over the tracks that have it.
    scores: dict[str, list[float]] = {}
    for track_id in ids:
        for label, score in state.shown_suggestions(track_id, field):
            scores.setdefault(label, []).append(score)
    merged = sorted(((label, sum(s) / len(s)) for label, s in scores.items()), key=lambda item: -item[1])
    statuses = sorted(
        {review.status if review else "not reviewed" for review in map(state.review, ids, [field] * len(ids))}
    )
    decision = (
        f"{len(ids)} tracks; " + ", ".join(statuses) + ". " + _coverage(state, field, vocabulary, policy)
    )
    return merged, None, [], decision, f"set for all {len(ids)} tracks"


def _coverage(state: ReviewState, field: str, vocabulary: Vocabulary, policy: WritePolicy) -> str:
    """How many of the selected tracks a write would give a value of ``field`` (before fill / merge weigh
    the file's own values; from a copy, the same recording in another file, counted too), how many have no
    confident value and keep the one their file held when last scanned, and how many would have none: what
    a DJ checks before writing a whole crate."""
    if policy.mode(field) == "skip":
        return f"The settings do not write {field}s."
    counts = {"with": 0, "copy": 0, "kept": 0, "none": 0, "rejected": 0, "bare": 0}
    for track_id in state.track_ids:
        review = state.review(track_id, field)
        if review is not None and review.status == "rejected":
            counts["rejected"] += 1
            continue
        if not state.suggestions.get(track_id) and review is None:  # not analysed, or it failed
            counts["bare"] += 1
            continue
        _mode, written = write_decision(
            field, state.all_suggestions(track_id, field), review, policy, vocabulary
        )
        if written:
            counts["with"] += 1
        elif policy.from_copies and field in state.copy_values.get(track_id, {}):
            counts["copy"] += 1  # the same recording's other files fill the empty field
        elif field in state.file_fields.get(track_id, ()):
            counts["kept"] += 1  # nothing confident: the write leaves the file's own value
        else:
            counts["none"] += 1
    parts = [f"A write has a {field} for {counts['with'] + counts['copy']} of them"]
    if counts["copy"]:
        parts[0] += f" ({counts['copy']} from the same recording in another file)"
    if counts["kept"]:
        kept = counts["kept"]
        parts.append(f"{kept} with no confident {field} keep{'s' if kept == 1 else ''} the file's own")
    if counts["none"]:
        parts.append(f"{counts['none']} {_have(counts['none'])} no confident {field}")
    if counts["rejected"]:
        parts.append(f"{counts['rejected']} rejected keep the file's")
    if counts["bare"]:
        bare = counts["bare"]
        parts.append(f"{bare} {_have(bare)} no suggestion at all (not analysed, or the analysis failed)")
    return "; ".join(parts) + "."


def _have(count: int) -> str:
    return "has" if count == 1 else "have"


def _describe(
    review: Review | None,
    field: str,
    mode: str,
    written: list[str],
    current: list[str],
    vocabulary: Vocabulary,
    copy: tuple[list[str], str] | None = None,
) -> str:
    """One track's field in words: its review, and what a write would leave in the file (the write's own
    resolve_field, against what the file holds now; ``copy``, the values and path of the same recording
    in another file, fills an empty field no confident label fills, as the write does)."""
    if review is not None and review.status == "rejected":
        return "Rejected: the file keeps its own values."
    if mode == "skip":
        return f"The settings do not write {field}s."
    status = "Not reviewed" if review is None else review.status.capitalize()
    if not written and copy is not None and not current:
        values, path = copy
        return (
            f"{status}: no confident {field}; a write copies {'; '.join(values)} from "
            f"{os.path.basename(path)}, the same recording in another file."
        )
    if not written:
        return f"{status}: no confident {field}, so a write leaves the field as it is."
    after = resolve_field(mode, current, written, vocabulary)
    if after == list(current):
        return f"{status}: {'; '.join(written)}, but a write keeps the file's {field} ({mode})."
    return f"{status}: a write makes the {field} {'; '.join(after)}."
