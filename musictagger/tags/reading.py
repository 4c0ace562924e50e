"""Reading fields through the field map."""

from __future__ import annotations

import os
from typing import Any

from musictagger.tags.containers import open_audio
from musictagger.tags.fields import FIELDS, TagFamily
from musictagger.tags.styles import StyleOptions


def read_fields(tags: Any, family: TagFamily, options: StyleOptions) -> dict[str, list[str]]:
    """All known fields of a loaded mutagen tag; for each, the first style holding a value wins."""
    found: dict[str, list[str]] = {}
    if tags is None:
        return found
    for name, field in FIELDS.items():
        for style in field.read_styles(family):
            values = style.get(tags, options)
            if values:
                found[name] = values
                break
    return found


def read_tags(path: str | os.PathLike, *, id3v23_separator: str = "; ") -> dict[str, list[str]]:
    """The known fields of `path` (see fields.FIELDS) as lists of strings; absent fields are left out.

    ID3v2.3 genre, mood and grouping are split on `id3v23_separator`. Raises TagReadError.
    """
    container, audio = open_audio(path)
    family = container.tag_format.read_family(audio)
    return read_fields(audio.tags, family, StyleOptions(id3v23_separator=id3v23_separator))
