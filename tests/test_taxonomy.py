"""The vocabulary users see: one spelling per label, synonyms merged, categories kept apart."""

import json

import pytest

from musictagger.catalog import available_models, load_card
from musictagger.taxonomy import (
    SelectionPolicy,
    VocabularyError,
    families_first,
    genres_as_read,
    load_vocabulary,
)


def test_every_raw_tag_of_every_shipped_model_has_exactly_one_canonical_label(vocabulary):
    for model in available_models():
        card = load_card(model)
        owners = {tag: [] for tag in card.labels}
        for label in vocabulary.labels:
            # A raw tag scores a label (sources) or only names it (hints, for head-fed labels): never both.
            for tag in (*label.sources.get(model, ()), *label.hints.get(model, ())):
                assert tag in owners, f"vocabulary names {tag!r}, which {model} does not output"
                owners[tag].append(label.name)
        assert {tag: names for tag, names in owners.items() if len(names) != 1} == {}


# A model card's raw categories and the vocabulary's: a raw genre tag is a genre family or a style, a raw
# mood tag a DJ mood or a descriptor (tempo, loudness and texture words are not moods).
COMPATIBLE = {"genre": {"genre", "style"}, "mood": {"mood", "descriptor"}}


def test_vocabulary_categories_agree_with_the_model_cards(vocabulary):
    for model in available_models():
        card = load_card(model)
        for label in vocabulary.labels:
            for tag in (*label.sources.get(model, ()), *label.hints.get(model, ())):
                raw = card.categories[tag]
                assert label.category in COMPATIBLE.get(raw, {raw}), (model, tag)


def test_written_genres_and_moods_come_from_calibrated_heads(vocabulary):
    for label in vocabulary.in_category("genre") + vocabulary.in_category("mood"):
        assert vocabulary.threshold(label.name) is not None, f"{label.name} has no calibrated threshold"
        assert 0 < vocabulary.threshold(label.name) <= 1
    # Tempo and loudness are descriptors, never moods.
    moods = {label.name for label in vocabulary.in_category("mood")}
    assert not moods & {"Slow", "Fast", "Loud", "Quiet", "Soft", "Mellow", "Instrumental"}
    assert {"Happy", "Dark", "Aggressive", "Melancholic", "Chill"} <= moods
    house = next(label for label in vocabulary.labels if label.name == "House")
    assert house.category == "style" and house.family == "Electronic"


def test_synonyms_merge_into_one_label_with_the_strongest_score(vocabulary):
    raw = {"MSD_musicnn": {"heavy metal": 0.2, "metal": 0.6, "House": 0.3}, "MTT_musicnn": {"metal": 0.4}}
    scores = vocabulary.canonical_scores(raw)
    assert scores["Metal"] == 0.6
    assert scores["House"] == 0.3
    assert scores["Heavy Metal"] == 0.2
    assert "metal" not in scores


def test_head_outputs_feed_labels_and_raw_hints_do_not_score(vocabulary):
    raw = {
        "MSD_musicnn": {"rock": 0.9, "metal": 0.5, "punk": 0.3, "80s": 0.9, "sad": 0.8},
        "MTT_musicnn": {"guitar": 0.95},
        "genres": {"Rock": 0.7, "Pop": 0.2, "Jazz": 0.05},
        "dj_moods": {"Aggressive": 0.6, "Melancholic": 0.1},
    }
    genres = vocabulary.select(raw, "genre", SelectionPolicy(top_n=2, min_score=0.1))
    assert [(g.label, g.score) for g in genres] == [("Rock", 0.7), ("Pop", 0.2)]  # the head's, not 0.9
    styles = vocabulary.select(raw, "style", SelectionPolicy(top_n=2, min_score=0.1))
    assert [s.label for s in styles] == ["Metal", "Punk"]
    moods = vocabulary.select(raw, "mood", SelectionPolicy(top_n=3, min_score=0.1))
    assert [m.label for m in moods] == ["Aggressive", "Melancholic"]  # raw "sad" 0.8 only hints
    assert vocabulary.select(raw, "genre", SelectionPolicy(top_n=3, min_score=0.8)) == []
    # A write takes a label at its own calibrated threshold, or at an explicit minimum score.
    rock = vocabulary.threshold("Rock")
    assert vocabulary.passes("Rock", rock, None) and not vocabulary.passes("Rock", rock - 0.01, None)
    assert vocabulary.passes("Rock", 0.3, 0.25) and not vocabulary.passes("Metal", 0.9, None)


def test_canonical_name_accepts_user_spellings(vocabulary):
    assert vocabulary.canonical_name("hip hop") == "Hip-Hop"
    assert vocabulary.canonical_name("HIPHOP") is None  # not a known spelling: never guessed
    assert vocabulary.canonical_name("chillout") == "Chill"  # a raw tag hinting at the DJ mood
    assert vocabulary.canonical_name("rnb") == "R&B"
    assert vocabulary.canonical_name("rock") == "Rock"


def test_a_user_edited_vocabulary_is_used_and_bad_files_are_clear_errors(tmp_path):
    mine = tmp_path / "vocabulary.json"
    mine.write_text(
        json.dumps(
            {"labels": [{"name": "Chillout", "category": "mood", "sources": {"MSD_musicnn": ["chill"]}}]}
        )
    )
    vocabulary = load_vocabulary(mine)
    assert vocabulary.names == ("Chillout",)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(VocabularyError, match="not valid JSON"):
        load_vocabulary(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"labels": [{"name": "X", "category": "vibe", "sources": {}}]}))
    with pytest.raises(VocabularyError, match="category"):
        load_vocabulary(wrong)


@pytest.mark.parametrize(
    "labels, message",
    [
        (
            [{"name": "Dark", "category": "moody", "sources": {"dj_moods": ["Dark"]}}],
            r"labels\[0\] \('Dark'\)",
        ),
        ([{"name": "Dark", "category": "mood", "sources": {}}], r"\('Dark'\): 'sources'"),
        ([{"name": "Dark", "category": "mood", "sources": {"dj_moods": "Dark"}}], r"\('Dark'\): 'sources'"),
        ([{"name": "", "category": "mood", "sources": {"x": ["y"]}}], r"labels\[0\]: 'name'"),
        (
            [{"name": "House", "category": "style", "family": "Electronic", "sources": {"m": ["House"]}}],
            r"\('House'\): family 'Electronic' is not a genre",
        ),
        ([{"name": "Jazz", "category": "genre", "family": "X", "sources": {"m": ["j"]}}], "only a style"),
        ([{"name": "Jazz", "category": "genre", "sources": {"m": ["j"]}, "colour": "red"}], "unknown key"),
        (["Jazz"], r"labels\[0\]: each label is an object"),
    ],
)
def test_a_malformed_vocabulary_names_the_entry(tmp_path, labels, message):
    path = tmp_path / "vocabulary.json"
    path.write_text(json.dumps({"version": 2, "labels": labels}))
    with pytest.raises(VocabularyError, match=message):
        load_vocabulary(path)


def test_a_style_is_read_beside_its_own_family():
    families = load_vocabulary().style_families
    assert families["Metal"] == "Rock" and families["House"] == "Electronic"
    assert "Rock" not in families  # a family refines nothing
    assert genres_as_read(["Rock", "Electronic"], "Metal", families) == ("Rock › Metal", "Electronic")
    assert genres_as_read(["Electronic", "Rock"], "House", families) == ("Electronic › House", "Rock")
    # A style of a family that is not confident stays a hint of its own (its facet lists the track)...
    assert genres_as_read(["Jazz"], "Techno", families) == ("Jazz", "Techno")
    # ...but never stands alone: with no confident family a write puts no genre, and none is shown.
    assert genres_as_read([], "Techno", families) == ()
    assert genres_as_read(["Jazz"], None, families) == ("Jazz",)
    assert genres_as_read(["Rock"], "Metal", {}) == ("Rock", "Metal")  # no vocabulary: as before


def test_a_genre_facet_lists_each_style_under_its_family():
    families = {"Metal": "Rock", "Punk": "Rock", "House": "Electronic", "Techno": "Electronic"}
    counts = [("Electronic", 7), ("House", 5), ("Rock", 3), ("Metal", 2), ("Techno", 2), ("Punk", 1)]
    assert families_first(counts, families) == [
        ("Electronic", 7, False),
        ("House", 5, True),
        ("Techno", 2, True),
        ("Rock", 3, False),
        ("Metal", 2, True),
        ("Punk", 1, True),
    ]
    # A style whose family has no tracks keeps its place, as an entry of its own; nothing is lost.
    alone = [("Jazz", 4), ("Techno", 2)]
    assert families_first(alone, families) == [("Jazz", 4, False), ("Techno", 2, False)]
    assert families_first(counts, {}) == [(label, n, False) for label, n in counts]
