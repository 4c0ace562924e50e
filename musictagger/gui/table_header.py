"""A table header whose painting costs the same for 10 selected rows or 100,000.

Qt's ``QHeaderView::paintSection`` asks, for every section it paints, whether the section and its two
neighbours are "selected" (``QItemSelectionModel::isColumnSelected``), which visits every row of the model
and asks the Python model for each row's flags: after a select-all of 1,000 tracks one header repaint took
160 ms, of 5,000 over half a second. The library table never shows selected columns (rows are selected,
``highlightSections`` is off), so this header paints each section from the header's own state only.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QCursor, QPainter
from PySide6.QtWidgets import QHeaderView, QStyle, QStyleOptionHeader, QWidget


class RowTableHeader(QHeaderView):
    """The horizontal header of a row-selecting table; paints without consulting the selection."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setHighlightSections(False)

    def paintSection(self, painter: QPainter, rect: QRect, logical_index: int) -> None:
        if not rect.isValid():
            return
        option = QStyleOptionHeader()
        self.initStyleOption(option)
        option.rect = rect
        option.section = logical_index
        option.orientation = self.orientation()
        model = self.model()
        display = Qt.ItemDataRole.DisplayRole
        text = model.headerData(logical_index, self.orientation(), display) if model is not None else None
        option.text = "" if text is None else str(text)
        option.textAlignment = self.defaultAlignment()
        option.iconAlignment = Qt.AlignmentFlag.AlignVCenter
        if self.isEnabled():
            option.state |= QStyle.StateFlag.State_Enabled
        if self.window().isActiveWindow():
            option.state |= QStyle.StateFlag.State_Active
        under = self.underMouse() and self.logicalIndexAt(self.mapFromGlobal(QCursor.pos()))
        hovered = under is not False and under == logical_index
        if self.sectionsClickable() and hovered:
            option.state |= QStyle.StateFlag.State_MouseOver
        if self.isSortIndicatorShown() and self.sortIndicatorSection() == logical_index:
            # Qt's own mapping: an ascending sort shows the "down" indicator.
            ascending = self.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
            indicators = QStyleOptionHeader.SortIndicator
            option.sortIndicator = indicators.SortDown if ascending else indicators.SortUp
        option.position = self._position(self.visualIndex(logical_index))
        option.selectedPosition = QStyleOptionHeader.SelectedPosition.NotAdjacent
        self.style().drawControl(QStyle.ControlElement.CE_Header, option, painter, self)

    def _position(self, visual: int) -> QStyleOptionHeader.SectionPosition:
        shown = [v for v in range(self.count()) if not self.isSectionHidden(self.logicalIndex(v))]
        first, last = visual == (shown[0] if shown else -1), visual == (shown[-1] if shown else -1)
        positions = QStyleOptionHeader.SectionPosition
        if first and last:
            return positions.OnlyOneSection
        if first:
            return positions.End if self.isRightToLeft() else positions.Beginning
        if last:
            return positions.Beginning if self.isRightToLeft() else positions.End
        return positions.Middle
