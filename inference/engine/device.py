"""Where and in which precision a worker runs its models, and how many CPU threads torch uses."""

import os

import torch


def select_device(setting: str = "auto") -> tuple[torch.device, torch.dtype]:
    """CUDA when present (bf16 if the GPU supports it, else fp16), otherwise CPU float32.

    ``setting`` ("auto" | "cpu" | "cuda") overrides the detection; asking for CUDA on a
    machine without it fails loudly rather than silently running on the CPU.
    """
    setting = (setting or "auto").lower()
    if setting not in {"auto", "cpu", "cuda"}:
        raise ValueError(f"INFERENCE_DEVICE must be auto, cpu or cuda, got {setting!r}.")
    use_cuda = setting == "cuda" or (setting == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise RuntimeError("INFERENCE_DEVICE=cuda but torch sees no CUDA device.")
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.device("cuda"), dtype
    # Half precision on CPU is slower than float32 for these matmuls and loses accuracy.
    return torch.device("cpu"), torch.float32


def cores_given() -> int:
    """CPU cores this process may run on (respects taskset / cgroup affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def configure_torch_threads(requested: int = 0) -> int:
    """Sets torch's intra-op threads to ``requested`` or, when 0, to the cores given."""
    threads = requested if requested > 0 else cores_given()
    torch.set_num_threads(threads)
    return threads
