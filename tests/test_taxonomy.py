"""The vocabulary users see: one spelling per label, synonyms merged, categories kept apart."""

import json

import pytest

from musictagger.catalog import available_models, load_card
from musictagger.taxonomy import SelectionPolicy, VocabularyError, load_vocabulary


def test_every_raw_tag_of_every_shipped_model_has_exactly_one_canonical_label(vocabulary):
    for model in available_models():
        card = load_card(model)
        owners = {tag: [] for tag in card.labels}
        for label in vocabulary.labels:
            for tag in label.sources.get(model, ()):
                assert tag in owners, f"vocabulary names {tag!r}, which {model} does not output"
                owners[tag].append(label.name)
        assert {tag: names for tag, names in owners.items() if len(names) != 1} == {}


def test_vocabulary_categories_agree_with_the_model_cards(vocabulary):
    for model in available_models():
        card = load_card(model)
        for label in vocabulary.labels:
            for tag in label.sources.get(model, ()):
                assert card.categories[tag] == label.category, (model, tag)


def test_synonyms_merge_into_one_label_with_the_strongest_score(vocabulary):
    raw = {"MSD_musicnn": {"chill": 0.2, "chillout": 0.6, "Hip-Hop": 0.3}, "MTT_musicnn": {"classic": 0.4}}
    scores = vocabulary.canonical_scores(raw)
    assert scores["Chill"] == 0.6
    assert scores["Hip-Hop"] == 0.3
    assert scores["Classical"] == 0.4
    assert "chillout" not in scores


def test_select_keeps_categories_apart_and_applies_threshold_and_cap(vocabulary):
    raw = {
        "MSD_musicnn": {"rock": 0.7, "metal": 0.5, "punk": 0.3, "jazz": 0.05, "80s": 0.9, "sad": 0.4},
        "MTT_musicnn": {"guitar": 0.95},
    }
    genres = vocabulary.select(raw, "genre", SelectionPolicy(top_n=2, min_score=0.1))
    assert [g.label for g in genres] == ["Rock", "Metal"]
    moods = vocabulary.select(raw, "mood", SelectionPolicy(top_n=3, min_score=0.1))
    assert [m.label for m in moods] == ["Sad"]
    assert vocabulary.select(raw, "genre", SelectionPolicy(top_n=3, min_score=0.8)) == []


def test_canonical_name_accepts_user_spellings(vocabulary):
    assert vocabulary.canonical_name("hip hop") == "Hip-Hop"
    assert vocabulary.canonical_name("HIPHOP") is None  # not a known spelling: never guessed
    assert vocabulary.canonical_name("chillout") == "Chill"
    assert vocabulary.canonical_name("rnb") == "R&B"


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
