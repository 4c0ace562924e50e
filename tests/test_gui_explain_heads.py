"""The Overlay menu offers every label the track carries (genres and moods from the heads, energy and
valence, styles, raw tags), grouped; a head's label is explained through the head, and the caption names
the label the DJ sees."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re

import pytest
from helpers import close_window, open_window

from tests.conftest import METAL

TIMEOUT_MS = 120_000
STRONGEST = re.compile(r": strongest \d+:\d\d–\d+:\d\d, \d[\d.]* (k?Hz)?–\d[\d.]* k?Hz \(.+\)$")


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAGGER_CACHE_DIR", str(tmp_path / "cache"))
    win = open_window(qtbot, tmp_path)
    yield win
    close_window(win)


def _entries(view) -> list[tuple[str, object, bool]]:
    """(text, key, selectable) of every selector entry, headings included."""
    selector = view.label_selector
    model = selector.model()
    return [
        (selector.itemText(i), selector.itemData(i), model.item(i).isEnabled())
        for i in range(selector.count())
    ]


def _explain(qtbot, view, key):
    with qtbot.waitSignal(view.explanation_shown, timeout=TIMEOUT_MS) as blocker:
        view.select_overlay_label(key)
    assert blocker.args == [key]
    return view._rows[key]


def test_overlay_menu_offers_every_label_grouped_and_explains_head_labels(qtbot, window):
    view = window.track_view
    with qtbot.waitSignal(view.explanation_shown, timeout=2 * TIMEOUT_MS):
        window.open_track(METAL)

    entries = _entries(view)
    headings = [text for text, key, selectable in entries if key is None]
    assert all(not selectable for _text, key, selectable in entries if key is None)
    assert headings[:4] == ["Genres", "Moods", "Energy & valence", "Styles"]
    assert headings[-1] == "Raw model tags"
    keys = [key for _text, key, _selectable in entries if key is not None]
    for key in ("canonical:Dark", "canonical:Euphoric", "head:energy_valence:energy", "canonical:Metal"):
        assert key in keys
    assert "raw:MTT_musicnn:guitar" in keys  # raw model tags stay available
    # The labels a write would take are marked and come first in their group.
    genres = [view._rows[key] for key in keys if view._rows[key].group == "genre"]
    assert [row.confident for row in genres] == sorted((row.confident for row in genres), reverse=True)
    assert "Rock" in {row.name for row in genres if row.confident}

    # The first entry is the track's best genre, explained through the genres head.
    first = view._rows[view.label_selector.currentData()]
    assert first.group == "genre" and view.explanation.head == "genres"
    assert view.overlay_caption.text().startswith(f"{first.name}: strongest ")

    # A DJ mood with no raw-tag hint at all: through dj_moods, back through both taggers.
    dark = _explain(qtbot, view, "canonical:Dark")
    caption = view.overlay_caption.text()
    assert caption.startswith("Dark: strongest ") and STRONGEST.search(caption), caption
    assert view.explanation.head == "dj_moods" and view.explanation.label == dark.name == "Dark"
    assert view.overlay_values.shape == view.analysis.spectrogram.shape
    tooltip = view.overlay_caption.toolTip()
    assert "head dj_moods" in tooltip and "MSD_musicnn + MTT_musicnn" in tooltip

    # Energy: named with its value, and what the map shows.
    energy = _explain(qtbot, view, "head:energy_valence:energy")
    value = float(view.analysis.heads["energy_valence"].probs[0])
    assert energy.name == f"Energy {value:.1f} (what raises it)"
    caption = view.overlay_caption.text()
    assert caption.startswith(f"{energy.name}: strongest ") and STRONGEST.search(caption), caption
    assert (
        view.explanation.direction == "raises" and "what raises the value" in view.overlay_caption.toolTip()
    )

    # A style stays on its tagger's raw tags.
    _explain(qtbot, view, "canonical:Metal")
    assert not view.explanation.head and view.explanation.model in ("MSD_musicnn", "MTT_musicnn")
    assert view.overlay_caption.text().startswith("Metal: strongest ")


def test_the_explain_worker_loads_a_head_once_and_again_when_it_is_saved_anew():
    import dataclasses
    import time

    import torch

    from musictagger.catalog import user_models_dir
    from musictagger.gui.explain_worker import ExplainModels
    from musictagger.heads.model import load_head, save_head

    head, card = load_head("dj_moods")
    mine = dataclasses.replace(card, name="my_moods")
    folder = save_head(user_models_dir() / "my_moods", head, mine)
    models = ExplainModels("cpu")
    first = models.head("my_moods")
    assert models.head("my_moods") is first  # once per worker, not per request
    with torch.no_grad():
        head.classifier[0].bias += 1.0
    time.sleep(0.05)  # a later modification time than the first save, on any file system's clock
    save_head(folder, head, mine)  # Learn my moods again: same name, same card version
    second = models.head("my_moods")
    assert second is not first and second.version != first.version
    assert second.taggers[0] is first.taggers[0]  # the taggers are the lane's, loaded once
