"""Draw the app icon: spectrogram-like bars on a dark tile with a tag shape. Writes the SVG and a 256 px PNG.

    python packaging/make_icon.py          # rewrites resources/icons/musictagger.{svg,png}

The SVG is written as text (same geometry) so it stays small and diff-able; the PNG is drawn by QPainter.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPainterPath, QPen

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZE = 256
TILE = "#1b1d21"
ACCENT = "#35b3e8"
TAG = "#f2b84b"
# Bar heights (fraction of the tile) of a little spectrum, low to high frequency.
BARS = (0.30, 0.52, 0.74, 0.60, 0.84, 0.46, 0.66, 0.38)


def bar_rects() -> list[tuple[float, float, float, float]]:
    left, right, base = 36.0, 220.0, 200.0
    width = (right - left) / len(BARS)
    return [(left + i * width + 3, base - h * 150, width - 6, h * 150) for i, h in enumerate(BARS)]


# The tag: a pentagon with a hole, pointing left, over the lower right corner.
TAG_POINTS = ((132, 150), (160, 122), (226, 122), (226, 178), (160, 178))
HOLE = (160, 150, 8)


def draw_png(path: Path) -> None:
    image = QImage(SIZE, SIZE, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(TILE))
    painter.drawRoundedRect(QRectF(8, 8, 240, 240), 44, 44)
    painter.setBrush(QColor(ACCENT))
    for x, y, w, h in bar_rects():
        painter.drawRoundedRect(QRectF(x, y, w, h), 4, 4)
    tag = QPainterPath()
    tag.moveTo(*TAG_POINTS[0])
    for point in TAG_POINTS[1:]:
        tag.lineTo(*point)
    tag.closeSubpath()
    hole = QPainterPath()
    hole.addEllipse(QPointF(HOLE[0], HOLE[1]), HOLE[2], HOLE[2])
    painter.setPen(QPen(QColor(TILE), 6))
    painter.setBrush(QColor(TAG))
    painter.drawPath(tag.subtracted(hole))
    painter.end()
    if not image.save(str(path)):
        raise OSError(f"cannot write {path}")


def svg_text() -> str:
    bars = "\n".join(
        f'  <rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="4" fill="{ACCENT}"/>'
        for x, y, w, h in bar_rects()
    )
    points = " ".join(f"{x},{y}" for x, y in TAG_POINTS)
    cx, cy, r = HOLE
    hole = f"M {cx - r},{cy} a {r},{r} 0 1,0 {2 * r},0 a {r},{r} 0 1,0 {-2 * r},0 Z"
    size = f'width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}"'
    return f"""<svg xmlns="http://www.w3.org/2000/svg" {size}>
  <title>musictagger</title>
  <rect x="8" y="8" width="240" height="240" rx="44" fill="{TILE}"/>
{bars}
  <path fill-rule="evenodd" fill="{TAG}" stroke="{TILE}" stroke-width="6" stroke-linejoin="round"
        d="M {points.replace(" ", " L ")} Z {hole}"/>
</svg>
"""


def main() -> int:
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    ICONS.mkdir(parents=True, exist_ok=True)
    (ICONS / "musictagger.svg").write_text(svg_text(), encoding="utf-8")
    draw_png(ICONS / "musictagger.png")
    print(f"wrote {ICONS / 'musictagger.svg'} and {ICONS / 'musictagger.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
