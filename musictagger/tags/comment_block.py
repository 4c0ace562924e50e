"""The DJ comment block: our genre/mood summary inside the comment, where DJ software shows it.

Rekordbox, Serato and Traktor show the comment but not MOOD, so users ask for a short, delimited block
appended to the comment:

    1A - Energy 6 [mood: dark; driving | genre: techno]

Format (one line, readable in a narrow comment column):
- `[` segments separated by ` | ` `]`; a segment is `name: value; value`;
- names are lowercase words (`[a-z][a-z0-9_-]*`), values are non-empty and contain none of `[ ] | ;` or a
  line break (set_comment_block refuses such values instead of mangling them);
- the block is appended after one space; everything else in the comment — a Mixed In Key `1A - Energy 6`,
  the user's notes — is kept byte for byte.

A bracketed part of the comment counts as a block only if it parses as above (so `[Remix]` or
`[Live at X]` are left alone). On the next run the existing block is rewritten where it is, so the user may
move it; if several exist (a copy-paste, another tool), the first is rewritten and the others removed, so
there is exactly one. Passing None (or an empty dict) removes it together with the space we added.

Pure functions, no I/O. Rekordbox reads only the first value of a FLAC comment: put the block there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_CANDIDATE = re.compile(r"\[([^\[\]\r\n]*)\]")
_NAME = re.compile(r"[a-z][a-z0-9_-]*\Z")
_FORBIDDEN = re.compile(r"[\[\]|;\r\n]")


def _parse_body(body: str) -> dict[str, list[str]] | None:
    """The block's fields, or None when `body` is not a block of ours."""
    block: dict[str, list[str]] = {}
    for segment in body.split("|"):
        name, colon, rest = segment.partition(":")
        name = name.strip()
        values = [value.strip() for value in rest.split(";")]
        if not colon or not _NAME.match(name) or name in block or not all(values):
            return None
        block[name] = values
    return block


def _find_blocks(comment: str) -> list[tuple[int, int, dict[str, list[str]]]]:
    found = []
    for match in _CANDIDATE.finditer(comment):
        block = _parse_body(match.group(1))
        if block is not None:
            found.append((match.start(), match.end(), block))
    return found


def format_comment_block(block: Mapping[str, Sequence[str]]) -> str:
    """`{"mood": ["dark", "driving"], "genre": ["techno"]}` -> `[mood: dark; driving | genre: techno]`.

    Names with no values are skipped; returns "" when nothing is left. Raises ValueError for a name or
    value the format cannot hold.
    """
    segments = []
    for name, values in block.items():
        if isinstance(values, str):
            raise TypeError(f"{name}: give a list of strings, not the bare string {values!r}")
        if not _NAME.match(name):
            raise ValueError(f"comment block names are lowercase words, not {name!r}")
        cleaned = [value.strip() for value in values]
        for value in cleaned:
            if not value or _FORBIDDEN.search(value):
                raise ValueError(
                    f"{name}: {value!r} cannot go into a comment block (empty, or has [ ] | ; or a newline)"
                )
        if cleaned:
            segments.append(f"{name}: {'; '.join(cleaned)}")
    return f"[{' | '.join(segments)}]" if segments else ""


def _remove_span(comment: str, start: int, end: int) -> str:
    """Cut comment[start:end] and the one space that separated it from the rest."""
    if start > 0 and comment[start - 1] == " ":
        start -= 1
    elif end < len(comment) and comment[end] == " ":
        end += 1
    return comment[:start] + comment[end:]


def parse_comment_block(comment: str) -> dict[str, list[str]]:
    """The fields of the (first) block in `comment`; {} when there is none."""
    blocks = _find_blocks(comment)
    return blocks[0][2] if blocks else {}


def set_comment_block(comment: str, block: Mapping[str, Sequence[str]] | None) -> str:
    """`comment` with exactly one block holding `block`, or with no block when `block` is None or empty.

    Idempotent: set_comment_block(set_comment_block(c, b), b) == set_comment_block(c, b), and removing
    the block restores a comment that had none exactly.
    """
    rendered = format_comment_block(block) if block else ""
    blocks = _find_blocks(comment)
    for start, end, _ in reversed(blocks[1:]):
        comment = _remove_span(comment, start, end)
    if blocks:
        start, end, _ = blocks[0]
        if rendered:
            return comment[:start] + rendered + comment[end:]
        return _remove_span(comment, start, end)
    if not rendered:
        return comment
    return f"{comment} {rendered}" if comment else rendered
