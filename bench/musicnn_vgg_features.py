"""Clip features from musicnn's *other* taggers, the VGG-style ones (MSD_vgg, MTT_vgg), for the quadrant
bench: a second representation trained on the same tags by a different architecture.

    /tmp/tfvenv/bin/python bench/musicnn_vgg_features.py MUSICNN_PKG_DIR OUT.npz AUDIO...

Runs in the scratch TensorFlow venv of ``../shared/tools/README.md`` (never a project dependency) and
reuses that folder's ``musicnn_oracle`` (the original graphs and the original mel pipeline). Per clip,
per model, averaged over its 3-s patches: the flattened last pooling layer (2 x 1 x 128 = 256) and the
mean over time and frequency of the fourth (128). One array per file name in OUT.npz.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "shared" / "tools"))

import musicnn_oracle
import numpy as np
import tensorflow as tf

MODELS = ("MSD_vgg", "MTT_vgg")


def load(pkg: str, name: str):
    folder = os.path.join(pkg, name) + "/"
    graph_def = tf.compat.v1.MetaGraphDef()
    with open(folder + ".meta", "rb") as handle:
        graph_def.ParseFromString(handle.read())
    for node in graph_def.graph_def.node:
        node.attr.pop("_output_shapes", None)  # stale shapes stop today's TensorFlow importing the graph
    graph = tf.Graph()
    with graph.as_default():
        session = tf.compat.v1.Session(graph=graph)
        tf.compat.v1.train.import_meta_graph(graph_def).restore(session, folder)
    tensor = graph.get_tensor_by_name
    outputs = {
        "pool5": tensor("model/Flatten/flatten/Reshape:0"),
        "pool4": tensor("model/max_pooling2d_3/MaxPool:0"),
    }
    return session, tensor("model/Placeholder:0"), tensor("model/Placeholder_2:0"), outputs


def main() -> int:
    pkg, out, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    models = [load(pkg, name) for name in MODELS]
    features = {}
    for path in files:
        _audio, mel = musicnn_oracle.mel_of(path)
        if mel.shape[0] < musicnn_oracle.N_FRAMES:
            continue
        patches = musicnn_oracle.patches_of(mel)
        parts = []
        for session, x, training, outputs in models:
            got = session.run(outputs, feed_dict={x: patches, training: False})
            parts.append(got["pool5"].reshape(len(patches), -1).mean(0))
            parts.append(got["pool4"].mean(axis=(1, 2)).mean(0))
        features[os.path.basename(path)] = np.concatenate(parts).astype(np.float32)
    np.savez(out, **features)
    print(f"{len(features)} clips -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
