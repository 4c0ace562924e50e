"""The desktop app. The only package that imports Qt; it drives the Qt-free core in ``musictagger``."""
