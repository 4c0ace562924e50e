"""One tagger's network on a batch of patches, in the execution forms torch offers (issue 14, item 3).

    .venv/bin/python bench/bench_network_forms.py [--model MSD_musicnn] [--batch 16] [--repeat 5]
                                                  [--no-compile]

The shipped network (``catalog.load_model``: real weights, eval mode) on ``--batch`` log-mel patches of 3 s,
as the analysis runs it (``torch.inference_mode``, malloc tuned as the Analyzer tunes it), timed as:

- **eager fp32**: what ``[analysis] precision = "auto"`` runs on a CPU without AMX;
- **eager bf16 autocast**: what it runs with AMX; the line names what runs bf16 here (AMX tiles, AVX-512
  BF16 instructions, or torch's emulation);
- **channels-last input**: the front end's Conv2d input in NHWC;
- **TorchScript frozen**: ``torch.jit.optimize_for_inference(torch.jit.freeze(trace))`` (oneDNN fusion);
- **torch.compile**: inductor (C++ code generated and compiled on first call; that first call's seconds
  are printed, as every new process pays them unless the cache is warm).

Each form's largest difference from eager fp32 in the taggram is printed with its time, and the share of
the machine's fp32 FMA peak the eager network reaches (MACs counted from the layers' shapes), which says
whether any form can still win much: a network near its peak is made faster only by doing less of it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from musictagger.catalog import load_model  # noqa: E402
from musictagger.device import cpu_has_amx, describe_precision, resolve_precision  # noqa: E402
from musictagger.memory import tune_allocator  # noqa: E402


def timed(forward, patches: torch.Tensor, repeat: int) -> tuple[float, torch.Tensor]:
    """Median ms of ``forward(patches)`` after one warm-up call, and its taggram."""
    with torch.inference_mode():
        probs = forward(patches)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            probs = forward(patches)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), probs


def macs_per_patch(network: torch.nn.Module, frames: int, n_mels: int) -> int:
    """Multiply-accumulates of one patch through the Conv and Linear layers (the rest is negligible)."""
    total = 0
    for module in network.modules():
        if isinstance(module, torch.nn.Conv2d):
            kt, kf = module.kernel_size
            out_f = n_mels - kf + 1
            total += module.out_channels * module.in_channels * kt * kf * frames * out_f
        elif isinstance(module, torch.nn.Conv1d):
            total += module.out_channels * module.in_channels * module.kernel_size[0] * frames
        elif isinstance(module, torch.nn.Linear):
            total += module.in_features * module.out_features
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="MSD_musicnn")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--no-compile", action="store_true", help="skip torch.compile (its first call is slow)"
    )
    args = parser.parse_args()

    # As the product runs (the Analyzer tunes malloc): without it each batch faults its activations back
    # in, and fp32 measured 629 ms a batch here instead of 312 (2026-12-05), a bench of the allocator.
    tuned = tune_allocator()
    network, _card = load_model(args.model)
    frames, n_mels = 187, 96
    patches = torch.randn(args.batch, frames, n_mels, generator=torch.Generator().manual_seed(0)) + 2.0
    auto = resolve_precision("auto", torch.device("cpu"))
    cpu_bf16 = _cpu_bf16_kind()
    print(f"{args.model}, batch {args.batch}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"CPU: {_cpu_name()} ({cpu_bf16}); precision auto here: {describe_precision(auto)}; "
          f"malloc tuned: {tuned}")  # fmt: skip

    def eager(x):
        return network(x).probs

    def bf16(x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return network(x).probs.float()

    def channels_last(x):
        # The front end's Conv2d sees (B, 1, T, F); NHWC is what oneDNN prefers for some convolutions.
        return network(x.unsqueeze(1).contiguous(memory_format=torch.channels_last).squeeze(1)).probs

    base_ms, base = timed(eager, patches, args.repeat)
    rows = [("eager fp32", base_ms, 0.0, "")]
    ms, probs = timed(bf16, patches, args.repeat)
    rows.append(("eager bf16 autocast", ms, _diff(probs, base), cpu_bf16))
    ms, probs = timed(channels_last, patches, args.repeat)
    rows.append(("channels-last input", ms, _diff(probs, base), ""))

    with torch.inference_mode():
        traced = torch.jit.trace(network, patches, check_trace=False, strict=False)
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
    ms, probs = timed(lambda x: frozen(x)[1], patches, args.repeat)
    rows.append(("TorchScript frozen", ms, _diff(probs, base), ""))

    if not args.no_compile:
        compiled = torch.compile(network, dynamic=False)
        started = time.perf_counter()
        with torch.inference_mode():
            compiled(patches)
        first_s = time.perf_counter() - started
        ms, probs = timed(lambda x: compiled(x).probs, patches, args.repeat)
        rows.append(("torch.compile (inductor)", ms, _diff(probs, base), f"first call {first_s:.1f} s"))

    print(f"\n{'form':28} {'ms/batch':>9} {'ms/patch':>9} {'vs eager':>9} {'max |d taggram|':>16}")
    for name, ms, diff, note in rows:
        print(f"{name:28} {ms:9.1f} {ms / args.batch:9.2f} {base_ms / ms:8.2f}x {diff:16.2e}  {note}")
    macs = macs_per_patch(network, frames, n_mels)
    achieved = 2 * macs * args.batch / (base_ms / 1000) / 1e9
    print(f"\n{macs / 1e9:.2f} GMAC per patch; eager fp32: {achieved:.0f} GFLOP/s on {os.cpu_count()} CPUs")
    return 0


def _diff(probs: torch.Tensor, base: torch.Tensor) -> float:
    return float((probs.float() - base.float()).abs().max())


def _cpu_bf16_kind() -> str:
    """What runs bf16 on this CPU: AMX tiles, AVX-512 BF16 instructions, or neither (torch emulates it)."""
    if cpu_has_amx():
        return "bf16 on AMX"
    if torch.cpu._is_avx512_bf16_supported():
        return "bf16 on AVX-512 BF16"
    return "bf16 emulated"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
