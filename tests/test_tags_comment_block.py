"""The DJ comment block: one block, rewritten in place, never touching the rest of the comment."""

from __future__ import annotations

import pytest

from musictagger.tags import format_comment_block, parse_comment_block, set_comment_block

MIK = "1A - Energy 6"
BLOCK = {"mood": ["dark", "driving"], "genre": ["techno"]}


def test_appended_after_the_mik_comment():
    assert set_comment_block(MIK, BLOCK) == "1A - Energy 6 [mood: dark; driving | genre: techno]"


def test_empty_comment_gets_just_the_block():
    assert set_comment_block("", BLOCK) == "[mood: dark; driving | genre: techno]"


def test_idempotent():
    once = set_comment_block(MIK, BLOCK)
    assert set_comment_block(once, BLOCK) == once
    assert set_comment_block(set_comment_block(once, BLOCK), BLOCK) == once


def test_rewritten_in_place_never_duplicated():
    once = set_comment_block(MIK, BLOCK)
    twice = set_comment_block(once, {"mood": ["euphoric"]})
    assert twice == "1A - Energy 6 [mood: euphoric]"
    assert twice.count("[") == 1


def test_block_moved_by_the_user_is_rewritten_where_it_is():
    comment = "1A - Energy 6 [mood: dark] great opener"
    assert set_comment_block(comment, {"mood": ["calm"]}) == "1A - Energy 6 [mood: calm] great opener"


def test_duplicates_are_collapsed_to_one():
    comment = "1A - Energy 6 [mood: dark] [mood: dark] [genre: house]"
    assert set_comment_block(comment, BLOCK) == "1A - Energy 6 [mood: dark; driving | genre: techno]"


@pytest.mark.parametrize(
    "comment",
    [MIK, "", "  spaced  ", "multi\nline", "8A - Energy 7 [Remix]", "ends with space ", "Live [at X]"],
)
def test_remove_restores_exactly(comment):
    with_block = set_comment_block(comment, BLOCK)
    assert set_comment_block(with_block, None) == comment
    assert set_comment_block(with_block, {}) == comment


def test_mik_comment_survives_byte_for_byte():
    with_block = set_comment_block(MIK, BLOCK)
    assert with_block.startswith(MIK + " ")
    assert set_comment_block(with_block, None).encode() == MIK.encode()


def test_removing_when_absent_changes_nothing():
    assert set_comment_block(MIK, None) == MIK


def test_brackets_that_are_not_ours_are_left_alone():
    comment = "Track [Extended Mix] [feat. Someone] [Remix]"
    assert parse_comment_block(comment) == {}
    assert set_comment_block(comment, BLOCK) == comment + " [mood: dark; driving | genre: techno]"
    assert set_comment_block(set_comment_block(comment, BLOCK), None) == comment


def test_parse():
    assert parse_comment_block(set_comment_block(MIK, BLOCK)) == BLOCK
    assert parse_comment_block("x [mood:dark ;driving|genre: techno ]") == BLOCK  # hand-edited spacing
    assert parse_comment_block(MIK) == {}
    assert parse_comment_block("[mood: ]") == {}


def test_format():
    assert format_comment_block(BLOCK) == "[mood: dark; driving | genre: techno]"
    assert format_comment_block({"mood": [], "genre": ["house"]}) == "[genre: house]"
    assert format_comment_block({"mood": []}) == ""


@pytest.mark.parametrize(
    "block",
    [
        {"mood": ["a;b"]},
        {"mood": ["a|b"]},
        {"mood": ["[x]"]},
        {"mood": ["a\nb"]},
        {"mood": [" "]},
        {"Mood": ["x"]},
    ],
)
def test_values_the_format_cannot_hold_are_refused(block):
    with pytest.raises(ValueError):
        set_comment_block(MIK, block)


def test_bare_string_is_refused():
    with pytest.raises(TypeError):
        set_comment_block(MIK, {"mood": "dark"})
