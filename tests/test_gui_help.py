"""Help ▸ Open log folder and Help ▸ About, on the real window."""

from helpers import close_window, open_window


def test_help_menu_opens_the_log_folder_and_shows_the_licence(qtbot, tmp_path, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    win = open_window(qtbot, tmp_path)
    try:
        titles = [action.text() for action in win.menuBar().actions()]
        assert "&Help" in titles
        assert win.open_log_action.isEnabled()
        win.open_log_action.trigger()
        from musictagger.paths import log_dir

        assert opened == [str(log_dir())]
        assert log_dir().is_dir()

        box = win.show_about()
        qtbot.addWidget(box)
        assert "GPL-3.0-or-later" in box.text()
        assert "musicnn" in box.text()  # the third-party summary names the model weights' licence
        box.close()
    finally:
        close_window(win)
