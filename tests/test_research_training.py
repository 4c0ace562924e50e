"""`train` and `evaluate` end to end on small, clearly separable synthetic audio written to real files.

The three "genres" (sine chords, noise bursts, click trains) go through the real pipeline: files decoded
by musictagger.audio, log-mel + hand-made features, the real nets, the real split and metrics. The nets
must learn them well above chance on held-out clips, and the saved model must load and reproduce its
numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file

from musictagger import catalog
from musictagger.errors import MusictaggerError

SR = 16000
SECONDS = 6.2  # two 3-s patches per clip
CLIPS_PER_CLASS = 8
NAME = "synth_genres"
# Held-out fractions large enough that the test part has several clips per class.
SPLIT_ARGS = ["--val", "0.25", "--test", "0.34", "--seed", "3"]
# Narrower than the defaults so that a CPU test trains in seconds; the layers and the data path are the same.
SMALL_PARALLEL = [
    "--arch-option",
    "visual_channels=[8,16,32,32]",
    "--arch-option",
    "audio_channels=[16,32,32]",
]
PARALLEL_ARGS = [
    "--epochs",
    "8",
    "--batch-size",
    "8",
    "--lr",
    "0.003",
    "--quiet",
    *SMALL_PARALLEL,
    *SPLIT_ARGS,
]


def tones(rng: np.random.Generator, seconds: float = SECONDS) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    f0 = rng.uniform(180, 500)
    chord = sum(np.sin(2 * np.pi * f0 * r * t + rng.uniform(0, 6)) for r in (1.0, 1.25, 1.5))
    return 0.2 * chord + 0.003 * rng.standard_normal(t.size)


def noise(rng: np.random.Generator, seconds: float = SECONDS) -> np.ndarray:
    n = int(SR * seconds)
    envelope = np.repeat(rng.uniform(0.1, 1.0, size=n // 1600 + 1), 1600)[:n]
    return 0.3 * envelope * rng.standard_normal(n)


def clicks(rng: np.random.Generator, seconds: float = SECONDS) -> np.ndarray:
    n = int(SR * seconds)
    out = 0.002 * rng.standard_normal(n)
    period = int(SR / rng.uniform(3, 8))
    for start in range(int(rng.integers(0, period)), n - 80, period):
        out[start : start + 80] += 0.8 * np.exp(-np.arange(80) / 12.0) * rng.choice([-1, 1])
    return out


GENRES = {"tones": tones, "noise": noise, "clicks": clicks}


def write(path: Path, audio: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(
        path,
        np.clip(audio, -1, 1).astype(np.float32),
        SR,
        subtype="PCM_16" if path.suffix == ".wav" else None,
    )


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run a command as ``python main.py ...`` would; (exit code, stdout, stderr)."""
    from musictagger import cli
    from musictagger.cli import evaluate, train

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        if {train, evaluate} <= set(cli.COMMANDS):
            code = cli.main(argv)
        else:  # until the commands are registered in musictagger/cli/__init__.py
            parser = argparse.ArgumentParser()
            sub = parser.add_subparsers(dest="command")
            train.add_parser(sub)
            evaluate.add_parser(sub)
            args = parser.parse_args(argv)
            try:
                code = args.run(args)
            except MusictaggerError as exc:
                print(f"musictagger: {exc}", file=__import__("sys").stderr)
                code = 2
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The CPU is shared with other work: one thread avoids threads spinning while they wait for a core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder-layout dataset (3 classes x 8 clips, WAV and FLAC, plus one corrupt file), its own cache
    and data folders, and one `train parallel_cnn` run on it."""
    root = tmp_path_factory.mktemp("research_training")
    rng = np.random.default_rng(7)
    data = root / "synth_genres"
    for genre, make in GENRES.items():
        for i in range(CLIPS_PER_CLASS):
            write(data / genre / f"{genre}_{i:02d}.{'wav' if i % 2 else 'flac'}", make(rng))
    (data / "tones" / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage, not audio" * 4)
    env = {"MUSICTAGGER_DATA_DIR": str(root / "data"), "MUSICTAGGER_CACHE_DIR": str(root / "cache")}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        models = catalog.user_models_dir()
        code, out, err = run_cli(["train", "parallel_cnn", str(data), "--name", NAME, *PARALLEL_ARGS])
    return {"root": root, "data": data, "env": env, "models": models, "train": (code, out, err)}


@pytest.fixture
def env(workspace, monkeypatch):
    for key, value in workspace["env"].items():
        monkeypatch.setenv(key, value)
    return workspace


def saved_card(workspace) -> dict:
    return json.loads((workspace["models"] / NAME / "card.json").read_text(encoding="utf-8"))


def test_train_reports_held_out_accuracy_well_above_chance(workspace):
    code, out, err = workspace["train"]
    assert code == 1, err  # one file failed (reported) but the model was trained and saved
    metrics = saved_card(workspace)["reported_metrics"]
    assert metrics["n_clips"] >= 6  # several held-out clips, never the training ones
    assert metrics["accuracy"] >= 0.8, out  # chance is 1/3
    lo, hi = metrics["accuracy_ci"]
    assert lo <= metrics["accuracy"] <= hi and hi - lo > 0.1  # few clips: a wide interval, printed
    lo, hi = metrics["macro_f1_ci"]
    assert lo <= metrics["macro_f1"] <= hi
    # The printed report says it is the test split, how many clips, and how the data was split.
    assert "test split" in out and "stratified" in out and str(metrics["n_clips"]) in out
    assert f"{metrics['accuracy']:.3f}"[:4] in out or f"{100 * metrics['accuracy']:.1f}" in out
    assert "saved synth_genres to" in out


def test_corrupt_file_is_reported_and_skipped(workspace):
    _, _, err = workspace["train"]
    assert "broken.wav" in err and "could not be decoded" in err
    card = saved_card(workspace)
    assert card["provenance"]["dataset"]["clips_skipped"] == 1
    assert card["provenance"]["dataset"]["clips_used"] == 3 * CLIPS_PER_CLASS


def test_saved_model_loads_in_the_catalog_and_classifies(env):
    folder = env["models"] / NAME
    assert {"weights.safetensors", "card.json", "confusion.png"} <= {p.name for p in folder.iterdir()}
    assert (folder / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model, card = catalog.load_model(NAME)
    assert card.task == "multiclass" and set(card.labels) == set(GENRES)
    assert dict(card.categories) == {label: "genre" for label in card.labels}
    assert card.sample_rate == 16000 and card.patch_frames == 187 and card.mel["n_mels"] == 96
    assert card.config["inputs"] == ["log-mel", "handmade-features"]
    assert card.provenance["seed"] == 3 and "test" in card.provenance["split"]
    assert card.licence == "trained locally by the user"
    # The loaded net, fed one clip through the same cache, names its class.
    from musictagger.research.cache import PatchCache

    inputs = PatchCache(with_features=True).get(str(env["data"] / "noise" / "noise_03.wav"))
    with torch.no_grad():
        out = model(torch.from_numpy(np.asarray(inputs.mel, np.float32)), torch.from_numpy(inputs.features))
    assert out.probs.shape == (len(inputs.mel), 3) and out.penultimate.shape[1] == card.embedding_dim
    assert card.labels[int(out.probs.mean(0).argmax())] == "noise"


def test_evaluate_reproduces_the_printed_test_numbers(env, tmp_path):
    png = tmp_path / "cm.png"
    code, out, err = run_cli(["evaluate", NAME, str(env["data"]), "--json", "--quiet", "--png", str(png)])
    assert code == 1, err  # the corrupt file is reported again
    report = json.loads(out)
    reported = saved_card(env)["reported_metrics"]
    for key in ("n_clips", "accuracy", "macro_f1", "accuracy_ci", "macro_f1_ci", "confusion", "split"):
        assert report[key] == reported[key], key
    assert png.read_bytes()[:4] == b"\x89PNG"
    # --split all on the training data says loudly that it is not a held-out estimate.
    code, out, err = run_cli(
        ["evaluate", str(env["models"] / NAME), str(env["data"]), "--split", "all", "--quiet"]
    )
    assert "not a held-out estimate" in out and "3 * 8" not in out


def test_same_seed_gives_identical_model_and_numbers(env, tmp_path):
    args = ["train", "parallel_cnn", str(env["data"]), "--name", "again", "--out", str(tmp_path / "again")]
    code, _, err = run_cli([*args, *PARALLEL_ARGS])
    assert code == 1, err
    first, second = env["models"] / NAME, tmp_path / "again"
    card = json.loads((second / "card.json").read_text(encoding="utf-8"))
    assert card["reported_metrics"] == saved_card(env)["reported_metrics"]
    a, b = load_file(first / "weights.safetensors"), load_file(second / "weights.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_refuses_to_overwrite_and_reports_a_bad_dataset_in_one_line(env, tmp_path):
    code, _, err = run_cli(["train", "parallel_cnn", str(env["data"]), "--name", NAME, "--quiet"])
    assert code == 2 and "already saved" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(["train", "emotion_cnn", str(tmp_path / "nowhere"), "--name", "x", "--quiet"])
    assert code == 2 and "nowhere" in err and "Traceback" not in err


def test_emotion_cnn_multilabel_thresholds_and_auc(env):
    """Clips mixing 1-3 sound kinds, tagged with each kind they contain (a CAL500-style 0/1 table)."""
    rng = np.random.default_rng(11)
    folder = env["root"] / "synth_tags"
    rows = ["file,tonal,noisy,rhythmic"]
    kinds = list(GENRES.values())
    for i in range(30):
        present = rng.random(3) < 0.5
        if not present.any():
            present[i % 3] = True
        audio = sum(make(rng, 3.2) for make, on in zip(kinds, present, strict=True) if on)  # one patch
        write(folder / f"clip_{i:02d}.wav", audio / present.sum())
        rows.append(f"clip_{i:02d}.wav," + ",".join(str(int(p)) for p in present))
    (folder / "tags.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out_dir = env["root"] / "emotion"
    code, out, err = run_cli(
        ["train", "emotion_cnn", f"multilabel:{folder / 'tags.csv'}", "--name", "tags", "--out", str(out_dir),
         "--epochs", "6", "--batch-size", "8", "--lr", "0.003", "--quiet", "--val", "0.3", "--test", "0.3",
         "--arch-option", "channels=[8,16,32]"]
    )  # fmt: skip
    assert code == 0, err
    card = json.loads((out_dir / "card.json").read_text(encoding="utf-8"))
    assert card["task"] == "multilabel" and card["categories"] == dict.fromkeys(
        ["tonal", "noisy", "rhythmic"], "mood"
    )
    thresholds = card["config"]["thresholds"]
    assert set(thresholds) == {"tonal", "noisy", "rhythmic"} and all(0 < t < 1 for t in thresholds.values())
    metrics = card["reported_metrics"]
    assert 0.5 < metrics["macro_roc_auc"] <= 1 and 0 < metrics["macro_pr_auc"] <= 1, out
    assert "ROC-AUC" in out and "PR-AUC" in out
    assert not (out_dir / "confusion.png").exists()


def test_resnet50_trust_trains_with_margins_and_user_imagenet_weights(env, tmp_path):
    """One epoch on one patch per clip (ResNet-50 is slow on a CPU): the options reach the loss, the
    net and the card, and the saved model loads."""
    from safetensors.torch import save_file
    from torchvision.models import resnet50

    imagenet = tmp_path / "resnet50_imagenet.safetensors"  # same keys and shapes as torchvision's file
    save_file({k: v.contiguous() for k, v in resnet50(weights=None).state_dict().items()}, str(imagenet))
    out_dir = tmp_path / "resnet"
    code, _, err = run_cli(
        ["train", "resnet50_trust", str(env["data"]), "--name", "rn", "--out", str(out_dir), "--epochs", "1",
         "--max-patches", "1", "--batch-size", "8", "--margin-angle", "0.2",
         "--imagenet-weights", str(imagenet), "--quiet", *SPLIT_ARGS]
    )  # fmt: skip
    assert code == 1, err  # the corrupt file again
    card = json.loads((out_dir / "card.json").read_text(encoding="utf-8"))
    assert card["config"]["classifier"] == "cosine" and card["config"]["scale"] == 30.0
    settings = card["provenance"]["settings"]
    # The balanced trusted loss is resnet50_trust's default: CE + RCE, effective-number class weights.
    assert (settings["alpha"], settings["beta"], settings["class_weights"]) == (1.0, 1.0, "effective")
    assert settings["margin_angle"] == 0.2
    assert card["provenance"]["imagenet_weights"]["loaded"] > 300
    assert card["embedding_dim"] == 2048 and "accuracy" in card["reported_metrics"]
    model, loaded = catalog.load_model(out_dir.resolve())
    assert loaded.architecture == "resnet50_trust" and model.classifier_kind == "cosine"
