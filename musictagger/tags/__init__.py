"""Reading and safely writing genre, mood, comment and grouping tags.

    from musictagger.tags import read_tags, write_tags, set_comment_block

    read_tags("a.mp3")            # {"title": ["..."], "genre": ["Jazz"], "comment": ["1A - Energy 6"], ...}
    change = write_tags("a.mp3", {"genre": ["House", "Techno"], "mood": ["dark"], "grouping": None})
    write_tags("a.mp3", change.undo_changes())   # back to exactly what was there

- fields.py: the field map (which key each field uses in ID3v2.4/v2.3, Vorbis comments, MP4, ASF);
- styles.py: the storage styles that get/set/delete a list of strings in one place of one tag kind;
- containers.py: file types, and how each tag kind is loaded, saved and snapshotted for verification;
- safe_write.py: copy, change, verify, atomic replace (the promise: never lose anything);
- audio_payload.py: the audio-untouched check;
- comment_block.py: the `[mood: ... | genre: ...]` block in the comment, for DJ software.
"""

from musictagger.tags.comment_block import format_comment_block, parse_comment_block, set_comment_block
from musictagger.tags.containers import CONTAINERS, Container, container_of
from musictagger.tags.errors import TagReadError, TagWriteError
from musictagger.tags.fields import FIELDS, WRITABLE_FIELDS, Field, TagFamily
from musictagger.tags.reading import read_tags
from musictagger.tags.safe_write import TagChange, find_stale_temp_files, write_tags

__all__ = [
    "CONTAINERS",
    "FIELDS",
    "WRITABLE_FIELDS",
    "Container",
    "Field",
    "TagChange",
    "TagFamily",
    "TagReadError",
    "TagWriteError",
    "container_of",
    "find_stale_temp_files",
    "format_comment_block",
    "parse_comment_block",
    "read_tags",
    "set_comment_block",
    "write_tags",
]
