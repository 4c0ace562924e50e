"""Convert the original musicnn TF1 checkpoints to ``models/<name>/weights.safetensors`` + ``card.json``.

One-off tool. It imports only TensorFlow, numpy, safetensors and the standard library (never torch or
musictagger), so it runs in a throwaway TF environment and the app never depends on TF::

    python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu==2.21.0 numpy safetensors
    pip download --no-deps musicnn==0.1.0 -d /tmp/mn
    (cd /tmp/mn && unzip -q musicnn-0.1.0-py3-none-any.whl)
    /tmp/tfenv/bin/python tools/convert_musicnn.py --wheel-dir /tmp/mn/musicnn --out models/

The checkpoints are ``musicnn/{MSD,MTT}_musicnn/`` with files ``.index``, ``.data-00000-of-00001`` and
``.meta`` (the checkpoint prefix is the folder itself, hence the hidden names).

TF → PyTorch map (``TF_TO_TORCH`` below). ``tf.compat.v1.layers`` names variables by creation order in
``models.py::build_musicnn``: input BN, then for each of the 5 front-end blocks its conv2d followed by its
BN, then the 3 mid-end conv2d+BN, then the back end's pooled BN, dense, dense BN, output dense.

Layouts:
* front-end conv2d kernels are HWIO (time, mel, in, out) → PyTorch Conv2d OIHW: transpose (3, 2, 0, 1).
* mid-end conv2d kernels are (7, C, 1, 64): a 2-D conv whose "width" spans all C channels of a (T, C, 1)
  map, i.e. a Conv1d with C input channels → PyTorch Conv1d weight (out, in, k):
  ``kernel[:, :, 0, :].transpose(2, 1, 0)``.
* dense kernels are (in, out) → nn.Linear weight (out, in): transpose. The 1506 inputs of ``dense`` keep
  TF's interleaved [max_0, mean_0, max_1, mean_1, …] order, which the port reproduces.
* batch norm gamma/beta/moving_mean/moving_variance → weight/bias/running_mean/running_var; PyTorch also
  wants a ``num_batches_tracked`` counter per BN, written as int64 0 (bookkeeping only, unused in eval).
Every parameter and running statistic is written as float32. Adam slots and beta powers are skipped.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

MODELS = ("MSD_musicnn", "MTT_musicnn")
CHECKPOINT_FILES = (".index", ".data-00000-of-00001", ".meta")

# (TF variable scope, PyTorch module prefix, kind)
TF_TO_TORCH: list[tuple[str, str, str]] = [
    ("batch_normalization", "front.input_bn", "bn"),
    ("conv2d", "front.timbral_38.conv", "conv2d"),  # (7, 38, 1, 204)
    ("batch_normalization_1", "front.timbral_38.bn", "bn"),
    ("conv2d_1", "front.timbral_67.conv", "conv2d"),  # (7, 67, 1, 204)
    ("batch_normalization_2", "front.timbral_67.bn", "bn"),
    ("conv2d_2", "front.temporal_128.conv", "conv2d"),  # (128, 1, 1, 51)
    ("batch_normalization_3", "front.temporal_128.bn", "bn"),
    ("conv2d_3", "front.temporal_64.conv", "conv2d"),  # (64, 1, 1, 51)
    ("batch_normalization_4", "front.temporal_64.bn", "bn"),
    ("conv2d_4", "front.temporal_32.conv", "conv2d"),  # (32, 1, 1, 51)
    ("batch_normalization_5", "front.temporal_32.bn", "bn"),
    ("conv2d_5", "mid.conv1.conv", "conv1d"),  # (7, 561, 1, 64)
    ("batch_normalization_6", "mid.conv1.bn", "bn"),
    ("conv2d_6", "mid.conv2.conv", "conv1d"),  # (7, 64, 1, 64)
    ("batch_normalization_7", "mid.conv2.bn", "bn"),
    ("conv2d_7", "mid.conv3.conv", "conv1d"),  # (7, 64, 1, 64)
    ("batch_normalization_8", "mid.conv3.bn", "bn"),
    ("batch_normalization_9", "back.pool_bn", "bn"),  # (1506,)
    ("dense", "back.dense", "dense"),  # (1506, 200)
    ("batch_normalization_10", "back.dense_bn", "bn"),  # (200,)
    ("dense_1", "back.output", "dense"),  # (200, 50)
]

# Expected TF shapes: a wrong map or a different checkpoint fails loudly instead of writing garbage.
EXPECTED_KERNELS = {
    "conv2d": (7, 38, 1, 204),
    "conv2d_1": (7, 67, 1, 204),
    "conv2d_2": (128, 1, 1, 51),
    "conv2d_3": (64, 1, 1, 51),
    "conv2d_4": (32, 1, 1, 51),
    "conv2d_5": (7, 561, 1, 64),
    "conv2d_6": (7, 64, 1, 64),
    "conv2d_7": (7, 64, 1, 64),
    "dense": (1506, 200),
    "dense_1": (200, 50),
}

BN_MAP = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}

# fmt: off
MSD_CATEGORIES = {
    "genre": [
        "rock", "pop", "alternative", "indie", "electronic", "dance", "alternative rock", "jazz", "metal",
        "classic rock", "soul", "indie rock", "electronica", "folk", "punk", "blues", "hard rock", "ambient",
        "experimental", "Hip-Hop", "country", "funk", "electro", "heavy metal", "Progressive rock", "rnb",
        "indie pop", "House",
    ],
    "mood": [
        "beautiful", "chillout", "Mellow", "chill", "party", "easy listening", "sexy", "catchy", "sad",
        "happy",
    ],
    "era": ["00s", "80s", "90s", "70s", "60s", "oldies"],
    "instrument/voice": [
        "female vocalists", "male vocalists", "female vocalist", "instrumental", "guitar", "acoustic",
    ],
}
MTT_CATEGORIES = {  # every MTT label not listed here is "instrument/voice"
    "genre": [
        "classical", "techno", "electronic", "rock", "ambient", "indian", "opera", "pop", "classic",
        "new age", "dance", "country", "metal", "choral",
    ],
    "mood": ["slow", "fast", "loud", "quiet", "soft", "weird"],
    "other": ["beat", "beats", "solo"],
}
# fmt: on

MEL = {
    "n_fft": 512,
    "hop_length": 256,
    "n_mels": 96,
    "f_min": 0.0,
    "f_max": 8000.0,
    "mel_scale": "slaney",
    "norm": "slaney",
    "power": 2.0,
    "center": True,
    # The reference features (librosa 0.11 melspectrogram defaults) pad with zeros; verified on the first
    # frame of the reference patches, where "reflect" differs by up to ~1.2 (log units).
    "pad_mode": "constant",
    "log": "log10(10000*x+1)",
}

META = {
    "MSD_musicnn": {
        "labels_var": "MSD_LABELS",
        "categories": MSD_CATEGORIES,
        "default_category": None,
        "metrics": {"dataset": "Million Song Dataset top-50 tags", "roc_auc": 0.880, "pr_auc": 0.289},
    },
    "MTT_musicnn": {
        "labels_var": "MTT_LABELS",
        "categories": MTT_CATEGORIES,
        "default_category": "instrument/voice",
        "metrics": {"dataset": "MagnaTagATune top-50 tags", "roc_auc": 0.907, "pr_auc": 0.383},
    },
}


def read_labels(configuration_py: Path, var: str) -> list[str]:
    """The label list assigned to ``var`` in the wheel's configuration.py.

    Parsed, not imported: importing anything from the musicnn package runs its __init__, which pulls TF and
    librosa."""
    tree = ast.parse(configuration_py.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == var for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise SystemExit(f"{configuration_py}: no {var}")


def categorise(labels: list[str], categories: dict[str, list[str]], default: str | None) -> dict[str, str]:
    by_label = {label: cat for cat, members in categories.items() for label in members}
    unknown = set(by_label) - set(labels)
    if unknown:
        raise SystemExit(f"category lists name labels the model does not have: {sorted(unknown)}")
    out = {}
    for label in labels:
        cat = by_label.get(label, default)
        if cat is None:
            raise SystemExit(f"label {label!r} has no category")
        out[label] = cat
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def convert_variables(reader) -> dict[str, np.ndarray]:
    """TF checkpoint reader → PyTorch state dict (numpy arrays), following TF_TO_TORCH."""
    shapes = reader.get_variable_to_shape_map()
    used: set[str] = set()
    out: dict[str, np.ndarray] = {}

    def get(name: str) -> np.ndarray:
        used.add(name)
        return np.asarray(reader.get_tensor(name), dtype=np.float32)

    for scope, prefix, kind in TF_TO_TORCH:
        if kind == "bn":
            for tf_name, pt_name in BN_MAP.items():
                out[f"{prefix}.{pt_name}"] = get(f"{scope}/{tf_name}")
            out[f"{prefix}.num_batches_tracked"] = np.array(0, dtype=np.int64)
            continue
        kernel, bias = get(f"{scope}/kernel"), get(f"{scope}/bias")
        if kernel.shape != EXPECTED_KERNELS[scope]:
            raise SystemExit(f"{scope}/kernel has shape {kernel.shape}, expected {EXPECTED_KERNELS[scope]}")
        if kind == "conv2d":  # HWIO → OIHW
            weight = kernel.transpose(3, 2, 0, 1)
        elif kind == "conv1d":  # (k, C_in, 1, C_out) → (C_out, C_in, k)
            weight = kernel[:, :, 0, :].transpose(2, 1, 0)
        else:  # dense (in, out) → (out, in)
            weight = kernel.T
        out[f"{prefix}.weight"] = np.ascontiguousarray(weight, dtype=np.float32)
        out[f"{prefix}.bias"] = bias

    # Everything trainable must have been mapped; only optimizer state may be left over.
    leftover = sorted(n for n in shapes if n not in used and "Adam" not in n and not n.startswith("beta"))
    if leftover:
        raise SystemExit(f"unmapped checkpoint variables: {leftover}")
    return out


def convert(wheel_dir: Path, out_dir: Path, name: str) -> Path:
    import tensorflow as tf  # only here, so the module imports (ruff, --help) without TF

    ckpt_dir = wheel_dir / name
    missing = [f for f in CHECKPOINT_FILES if not (ckpt_dir / f).is_file()]
    if missing:
        raise SystemExit(f"{ckpt_dir}: missing checkpoint files {missing}")
    reader = tf.compat.v1.train.NewCheckpointReader(str(ckpt_dir) + os.sep)
    tensors = convert_variables(reader)

    meta = META[name]
    configuration_py = wheel_dir / "configuration.py"
    labels = read_labels(configuration_py, meta["labels_var"])
    if len(labels) != tensors["back.output.weight"].shape[0]:
        raise SystemExit(f"{name}: {len(labels)} labels but {tensors['back.output.weight'].shape[0]} outputs")

    sources = {f"musicnn/{name}/{f}": sha256(ckpt_dir / f) for f in CHECKPOINT_FILES}
    sources["musicnn/configuration.py"] = sha256(configuration_py)
    card = {
        "name": name,
        "architecture": "musicnn",
        "version": "1.0",
        "task": "multilabel",
        "labels": labels,
        "categories": categorise(labels, meta["categories"], meta["default_category"]),
        "sample_rate": 16000,
        "mel": MEL,
        "patch_frames": 187,
        "patch_hop_frames": 187,
        "embedding_dim": 200,
        "licence": "ISC",
        "provenance": {
            "source": f"PyPI musicnn 0.1.0 wheel, musicnn/{name} TF1 checkpoint",
            "authors": "Jordi Pons, Xavier Serra",
            "paper": (
                "musicnn: pre-trained convolutional neural networks for music audio tagging, ISMIR 2019 LBD"
            ),
            "converted_by": "tools/convert_musicnn.py",
            "sha256_of_source_files": sources,
        },
        "reported_metrics": meta["metrics"],
    }

    target = out_dir / name
    target.mkdir(parents=True, exist_ok=True)
    weights = target / "weights.safetensors"
    # One metadata key only: safetensors writes a multi-key metadata map in random order, and the file
    # should be byte-reproducible (provenance lives in card.json).
    save_file(tensors, str(weights), metadata={"format": "pt"})
    weights.chmod(0o644)  # safetensors writes through a private temp file (mode 600); this is a shipped asset
    (target / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--wheel-dir", type=Path, required=True, help="the unzipped wheel's musicnn/ package folder"
    )
    parser.add_argument("--out", type=Path, required=True, help="models folder to write <name>/ into")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = parser.parse_args(argv)
    for name in args.models:
        target = convert(args.wheel_dir, args.out, name)
        print(f"{name}: wrote {target / 'weights.safetensors'} and {target / 'card.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
