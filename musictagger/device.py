"""Choosing where the models run: CUDA, Apple MPS or the CPU."""

from __future__ import annotations

import torch

from musictagger.errors import MusictaggerError


class DeviceError(MusictaggerError):
    """A device was asked for that this machine does not have."""


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; ``cpu``, ``cuda``, ``cuda:N`` and ``mps`` force one."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise DeviceError(f"unknown device {spec!r}: use auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("CUDA was asked for but no CUDA GPU is usable here; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"{spec}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not _mps_available():
        raise DeviceError("Apple MPS was asked for but is not available here; use --device cpu")
    return device


def describe_device(device: torch.device) -> str:
    """A short name a user recognises: the GPU's name, or the CPU and its thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


#: ``[analysis] precision`` (what each means on which hardware: resolve_precision).
PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(spec: str, device: torch.device) -> torch.dtype | None:
    """The dtype the taggers' networks autocast to on ``device``, or None for plain fp32: what
    ``[analysis] precision`` means here. ``auto`` = bf16 on a CPU with AMX tiles, else fp32; a GPU runs
    bf16 only when asked. Measured against the original musicnn (tools/check_parity.py --precision):
    README, *Library mode*.

    Why bf16 and not fp16: bf16 keeps fp32's exponent range, so the log-mel inputs and the activations
    cannot overflow; its shorter mantissa moves a tag probability by a few thousandths. Why AMX only: with
    AMX the convolutions ran 1.6x faster in bf16 (505 -> 309 ms per 16 patches), every parity row held;
    with AVX-512 BF16 alone (an AMD EPYC, 2026-12-05) they ran at fp32's speed and one parity row's top-3
    swapped a near tie, a cost for no gain. Without either, autocast emulates bf16 and runs 16x slower.
    An explicit ``bf16`` is honoured anywhere torch can run it."""
    spec = (spec or "auto").strip().lower()
    if spec not in PRECISIONS:
        raise DeviceError(f"unknown precision {spec!r}: use {', '.join(PRECISIONS[:-1])} or {PRECISIONS[-1]}")
    if spec != "auto":
        return None if spec == "fp32" else torch.bfloat16
    if device.type != "cpu":  # parity with bf16 measured on CPUs only so far: a GPU runs fp32 unless asked
        return None
    return torch.bfloat16 if cpu_has_amx() else None


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles (what makes bf16 pay: resolve_precision)."""
    return bool(getattr(getattr(torch, "cpu", None), "_is_amx_tile_supported", lambda: False)())


#: ``[analysis] library_precision`` (resolve_library_int8).
LIBRARY_PRECISIONS = ("auto", "int8", "same")


def resolve_library_int8(spec: str, device: torch.device) -> bool:
    """Whether library mode runs the taggers' int8 form (nets/musicnn_int8.py): what ``[analysis]
    library_precision`` means here. ``auto`` = int8 on a CPU with int8 dot products (VNNI or AMX), where
    the networks then take about half their fp32 time; ``same`` = as the full analysis (``precision``);
    ``int8`` = int8 on any CPU. The full analysis never runs int8. How far library mode's answers move:
    README, *Library mode*."""
    spec = (spec or "auto").strip().lower()
    if spec not in LIBRARY_PRECISIONS:
        raise DeviceError(
            f"unknown library precision {spec!r}: use {', '.join(LIBRARY_PRECISIONS[:-1])} or "
            f"{LIBRARY_PRECISIONS[-1]}"
        )
    if spec == "same":
        return False
    from musictagger.nets.musicnn_int8 import int8_ops_available

    usable = device.type == "cpu" and int8_ops_available()
    if spec == "int8" and not usable:
        raise DeviceError(
            f"int8 library mode runs on a CPU with torch's oneDNN int8 convolution, not on {device.type};"
            " set [analysis] library_precision to auto or same"
        )
    return usable and (spec == "int8" or cpu_has_vnni())


def cpu_has_vnni() -> bool:
    """Whether this CPU has int8 dot products (AVX-512 VNNI, AVX-VNNI or AMX): what makes int8 pay."""
    vnni = getattr(getattr(torch, "cpu", None), "_is_vnni_supported", lambda: False)
    return bool(vnni() or cpu_has_amx())


def describe_precision(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16"}[dtype]
