"""The original musicnn pipeline (librosa front end + the TF1 graphs from the musicnn 0.1.0 wheel).

Runs in a throwaway environment with tensorflow-cpu and librosa, never in the app's:

    python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu==2.21.0 librosa
    pip download --no-deps musicnn==0.1.0 -d /tmp/mn && (cd /tmp/mn && unzip -q -o musicnn-0.1.0*.whl)
    /tmp/tfenv/bin/python tools/original_musicnn.py --musicnn-dir /tmp/mn/musicnn --time FILE...

It follows ../shared/README.md: librosa.load(sr=16000) -> melspectrogram(n_fft=512, hop=256, 96 mels)
-> log10(10000 x + 1) in float32 -> 187-frame patches, hop 187, last partial patch dropped. With --time it
prints one JSON line {"n", "seconds", "elapsed"} for the benchmark; otherwise one JSON line per file with
the mean tag probabilities of both models.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import librosa
import numpy as np
import tensorflow as tf

tf.compat.v1.disable_eager_execution()


def log_mel_patches(path: str) -> tuple[np.ndarray, int]:
    y, _ = librosa.load(path, sr=16000)
    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96).T
    logmel = np.log10(10000 * mel.astype(np.float32) + 1).astype(np.float32)
    n = len(logmel) // 187
    if n == 0:  # shorter than one patch: pad with silence, as musictagger does
        return np.pad(logmel, ((0, 187 - len(logmel)), (0, 0)))[None], len(y)
    return logmel[: n * 187].reshape(n, 187, 96), len(y)


class Graph:
    def __init__(self, checkpoint_dir: str):
        meta = tf.compat.v1.MetaGraphDef()
        with open(f"{checkpoint_dir}/.meta", "rb") as fh:
            meta.ParseFromString(fh.read())
        for node in meta.graph_def.node:  # TF 2 refuses the TF 1 shape attrs; the graph does not need them
            if "_output_shapes" in node.attr:
                del node.attr["_output_shapes"]
        self.graph = tf.Graph()
        with self.graph.as_default():
            saver = tf.compat.v1.train.import_meta_graph(meta)
            self.session = tf.compat.v1.Session(graph=self.graph)
            saver.restore(self.session, f"{checkpoint_dir}/")
        self.x = self.graph.get_tensor_by_name("model/Placeholder:0")
        self.training = self.graph.get_tensor_by_name("model/Placeholder_2:0")
        self.y = self.graph.get_tensor_by_name("model/Sigmoid:0")

    def __call__(self, patches: np.ndarray) -> np.ndarray:
        return self.session.run(self.y, {self.x: patches, self.training: False})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--musicnn-dir", required=True)
    parser.add_argument("--time", action="store_true")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    graphs = {name: Graph(f"{args.musicnn_dir}/{name}") for name in ("MSD_musicnn", "MTT_musicnn")}
    start = time.perf_counter()
    seconds, done = 0.0, 0
    for path in args.files:
        try:
            patches, n_samples = log_mel_patches(path)
        except Exception as exc:  # librosa without FFmpeg cannot open M4A/WMA: count only what it reads
            print(f"skipped {path}: {type(exc).__name__}", file=sys.stderr)
            continue
        done += 1
        seconds += n_samples / 16000
        means = {name: g(patches).mean(axis=0).round(6).tolist() for name, g in graphs.items()}
        if not args.time:
            print(json.dumps({"path": path, **means}))
    if args.time:
        print(json.dumps({"n": done, "seconds": seconds, "elapsed": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
