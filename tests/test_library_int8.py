"""Library mode's int8 networks (nets/musicnn_int8.py, ``[analysis] library_precision``).

They must stay close to the fp32 networks on real patches (the same top tags), give a patch the same
answer whatever it is batched with, be chosen only where they pay, never run in a full analysis, and be
stored as library mode's answer so a full run redoes them. How far the written labels move on the
labelled sets is a benchmark (bench/bench_library_mode.py), not a test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DATA, METAL

from musictagger.analysis import Analyzer
from musictagger.catalog import load_model
from musictagger.device import DeviceError, cpu_has_vnni, resolve_library_int8
from musictagger.nets.musicnn_int8 import Int8Musicnn, _diffused_int8, int8_ops_available

REFERENCE = Path(__file__).parent / "data" / "reference"
VIBE = DATA / "audio" / "vibe_ace.ogg"  # 3.5 s: one patch, shorter than any budget

needs_int8 = pytest.mark.skipif(not int8_ops_available(), reason="this torch has no oneDNN int8 convolution")


@pytest.fixture(scope="module")
def reference_patches() -> torch.Tensor:
    with np.load(REFERENCE / "muldjord-chaos_god.ogg.npz") as ref:
        return torch.from_numpy(ref["patches"][:16])


@needs_int8
@pytest.mark.parametrize("model_name", ["MSD_musicnn", "MTT_musicnn"])
def test_the_int8_network_stays_close_to_fp32_and_keeps_the_top_tags(model_name, reference_patches):
    net = load_model(model_name)[0]
    quick = Int8Musicnn(net)
    with torch.inference_mode():
        exact, got = net(reference_patches), quick(reference_patches)
    difference = (got.probs - exact.probs).abs()
    assert float(difference.mean()) < 0.002 and float(difference.max()) < 0.05
    # The track's scores (the mean over its patches) keep their top 3, in order.
    assert got.probs.mean(0).topk(3).indices.tolist() == exact.probs.mean(0).topk(3).indices.tolist()
    # The embedding the heads read moves as little.
    moved = (got.penultimate - exact.penultimate).abs().mean()
    assert float(moved) < 0.02 * float(exact.penultimate.abs().mean())
    # Its weights are the fp32 network's: nothing copied, the mid and back ends shared.
    assert quick.net is net


@needs_int8
def test_a_patch_gets_the_same_int8_answer_alone_or_in_a_batch(reference_patches):
    quick = Int8Musicnn(load_model("MSD_musicnn")[0])
    with torch.inference_mode():
        batched = quick(reference_patches).probs
        alone = torch.cat([quick(patch[None]).probs for patch in reference_patches[:4]])
    torch.testing.assert_close(alone, batched[:4], atol=1e-5, rtol=0)


def test_diffused_rounding_keeps_every_run_of_neighbouring_weights_within_a_step():
    generator = torch.Generator().manual_seed(0)
    steps = (torch.rand(8, 1, 7, 38, generator=generator) * 2 - 1) * 127
    rounded = _diffused_int8(steps).float()
    assert rounded.abs().max() <= 127
    # Walk the kernel as the diffusion does (down one column, up the next): the running sums of rounded
    # and true weights never part by a step or more, where plain rounding drifts by several.
    walk = [(row if column % 2 == 0 else 6 - row, column) for column in range(38) for row in range(7)]
    true_sum = torch.stack([steps[:, 0, r, c] for r, c in walk], 1).cumsum(1)
    diffused_sum = torch.stack([rounded[:, 0, r, c] for r, c in walk], 1).cumsum(1)
    plain_sum = torch.stack([torch.round(steps[:, 0, r, c]) for r, c in walk], 1).cumsum(1)
    assert float((diffused_sum - true_sum).abs().max()) < 1.0
    assert float((plain_sum - true_sum).abs().max()) > 2.0


def test_library_precision_is_int8_only_where_asked_and_possible():
    cpu = torch.device("cpu")
    assert resolve_library_int8("same", cpu) is False
    assert resolve_library_int8("auto", cpu) == (int8_ops_available() and cpu_has_vnni())
    with pytest.raises(DeviceError, match="unknown library precision"):
        resolve_library_int8("int4", cpu)
    with pytest.raises(DeviceError, match="not on cuda"):
        resolve_library_int8("int8", torch.device("cuda"))
    assert resolve_library_int8("auto", torch.device("cuda")) is False


@pytest.fixture(scope="module")
def int8_analyzer():
    return Analyzer(device="cpu", precision="fp32", library_precision="int8")


@needs_int8
def test_library_mode_runs_int8_and_the_full_analysis_never_does(analyzer, int8_analyzer):
    assert int8_analyzer.library_int8 and not analyzer.library_int8
    full = int8_analyzer.analyse_file(METAL)
    assert not full.quantized and full.is_full
    for name, expected in analyzer.analyse_file(METAL).models.items():
        np.testing.assert_allclose(full.models[name].taggram, expected.taggram, atol=1e-5)
    sampled = int8_analyzer.analyse_file(METAL, patch_budget=2)
    assert sampled.sampled and sampled.quantized and not sampled.is_full
    exact = analyzer.analyse_file(METAL, patch_budget=2)
    assert sampled.patch_starts_s.tolist() == exact.patch_starts_s.tolist()
    for name, scores in exact.models.items():
        assert np.abs(sampled.models[name].scores - scores.scores).mean() < 0.002
    assert sampled.heads["genre_gtzan"].top()[0] == exact.heads["genre_gtzan"].top()[0] == "metal"
    # A track no longer than the budget: every patch, by the full networks, so its full analysis.
    short = int8_analyzer.analyse_file(VIBE, patch_budget=2)
    assert not short.sampled and not short.quantized and short.is_full
    for name, expected in analyzer.analyse_file(VIBE).models.items():
        np.testing.assert_allclose(short.models[name].scores, expected.scores, atol=1e-5)


@needs_int8
def test_an_int8_analysis_is_stored_as_library_mode_and_a_full_run_redoes_it(
    library, tmp_path, int8_analyzer, vocabulary
):
    from sqlalchemy import select

    from musictagger.library import Analysis
    from musictagger.library.scanner import scan
    from musictagger.library.store import analyse_pending

    root = tmp_path / "Music"
    root.mkdir()
    shutil.copy(METAL, root / "metal.ogg")  # 4 patches: 2 sampled, and the closer look's other 2, in int8
    scan(library, [root])
    int8_analyzer.refine = lambda analysis: True
    try:
        every = int8_analyzer.analyse_file(METAL, patch_budget=2)
        assert not every.sampled and every.quantized and not every.is_full  # every patch, but int8
        assert analyse_pending(library, int8_analyzer, vocabulary, patch_budget=2).analysed == 1
    finally:
        int8_analyzer.refine = None
    with library.session() as session:
        rows = session.scalars(select(Analysis)).all()
        assert rows and all(row.sampled and row.patch_starts is not None for row in rows)
    assert analyse_pending(library, int8_analyzer, vocabulary, patch_budget=2).pending == 0
    assert analyse_pending(library, int8_analyzer, vocabulary).analysed == 1  # full: redone in fp32
    with library.session() as session:
        rows = session.scalars(select(Analysis)).all()
        assert rows and not any(row.sampled for row in rows)


def test_the_library_precision_setting_and_option(monkeypatch, tmp_path):
    from musictagger.cli import build_parser
    from musictagger.cli.common import run_settings
    from musictagger.settings import Settings

    monkeypatch.setenv("MUSICTAGGER_CONFIG_DIR", str(tmp_path))
    assert Settings().analysis.library_precision == "auto"
    with pytest.raises(ValueError, match="library_precision"):
        Settings().replace(analysis={"library_precision": "int4"})
    args = build_parser().parse_args(["tag", "--library-precision", "same", "x.mp3"])
    assert run_settings(args).analysis.library_precision == "same"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["tag", "--library-precision", "bf16", "x.mp3"])
