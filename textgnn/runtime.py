"""The process a run lives in: its CPUs, its random states, its heap, and the process group
when ``torchrun`` starts several."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import random
import re
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .errors import TextGNNError


def usable_cpus() -> int:
    """CPUs this process may run on (respects ``taskset`` and container limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def peak_rss_gb() -> float:
    """This process's peak resident memory in GB (VmHWM; ``ru_maxrss`` without /proc). A
    study run is a process of its own, so this is the run's peak, the preloaded libraries
    included."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024 ** 2
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def device_name(device: torch.device) -> str:
    """What trained a run, for its cost record: ``cpu``, or the accelerator's model name
    (``cuda: NVIDIA H200``), since CPU seconds miss an accelerator's work."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return device.type


def cpu_kernels() -> dict:
    """The CPU a run trained on, as far as its arithmetic depends on it: the model name, the
    kernels torch dispatches to (``AVX2``, ``AVX512``, ...), the CPU's vector extensions, from
    which oneDNN picks its own, and where torch's BLAS is Intel MKL, the code path MKL takes
    (:func:`mkl_path`). The same config and seed retrain bit for bit only on the same kernels
    (docs/DESIGN.md, "Reproducibility")."""
    model, flags = "unknown", []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = sorted(f for f in value.split() if f.startswith(("avx", "amx", "fma")))
                break
    except OSError:  # not on Linux
        pass
    kernels = {"model": model, "torch_kernels": torch.backends.cpu.get_cpu_capability(),
               "vector_flags": flags}
    blas = mkl_path()
    return kernels if blas is None else kernels | {"mkl": blas}


@functools.cache
def mkl_path() -> str | None:
    """The code path Intel MKL, torch's BLAS on x86, takes on this CPU, as its verbose mode
    names it (e.g. ``Intel(R) Advanced Vector Extensions 512 (Intel(R) AVX-512) ...``), and
    its conditional numerical reproducibility mode (``CNR:OFF``, or the branch ``MKL_CBWR``
    pins); None without MKL, or where the user runs MKL verbose (``MKL_VERBOSE``), whose
    banner is theirs and whose setting is left alone. MKL chooses its kernels by CPU vendor
    and model, not only by vector width: two CPUs on which torch dispatches to the same
    kernels can still round a matrix product differently. MKL prints its banner once per
    process, so this is read once, from the standard output of one small product, which is
    kept from the caller's."""
    if not torch.backends.mkl.is_available() or os.environ.get("MKL_VERBOSE"):
        return None
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 1)
        try:
            with torch.backends.mkl.verbose(torch.backends.mkl.VERBOSE_ON):
                torch.ones(64, 64) @ torch.ones(64, 64)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        captured.seek(0)
        text = captured.read().decode(errors="replace")
    path = re.search(r"architecture (.+?), \S+ [\d.]+GHz", text)  # "..., Lnx 2.60GHz ..."
    cnr = re.search(r"CNR:(\S+)", text)
    if path is None:  # the banner went out before: better none than a guess
        return None
    return f"{path.group(1)}; CNR:{cnr.group(1) if cnr else 'unknown'}"


@contextlib.contextmanager
def exclusive(path: Path):
    """Hold an exclusive lock on ``path`` for the with-block, or hold nothing: yields
    ``(True, "")`` when held, ``(False, holder)`` at once when another process holds it
    (``holder``: its pid and host, as it wrote them). flock: released when the holder ends,
    however it ends, so a killed process leaves no stale lock."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            yield False, handle.read().strip() or "pid unknown"
            return
        handle.truncate(0)
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        yield True, ""


def log(message: str) -> None:
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only rank 0 speaks
        print(message, file=sys.stderr, flush=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@functools.cache
def _malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def release_freed_memory() -> None:
    """Hand freed heap pages back to the OS (glibc's ``malloc_trim``; elsewhere a no-op).

    Batches of long texts allocate tensors of a different size at every step; glibc keeps
    freed blocks it cannot reuse, and on 20 Newsgroups resident memory grew by ~0.3 GB per
    epoch while live data stayed flat. Trimming changes no computed value.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def init_distributed(device: torch.device) -> tuple[int, int, torch.device]:
    """(rank, world size, device) under ``torchrun`` (gloo on CPU, NCCL on GPU: one GPU per
    process, by LOCAL_RANK); (0, 1, device) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device
    import torch.distributed as dist

    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if local >= torch.cuda.device_count():
            raise TextGNNError(
                f"torchrun process {local} has no GPU of its own ({torch.cuda.device_count()} "
                "visible): start at most one process per GPU (--nproc_per_node), or set "
                "train.device=cpu")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), world, device


def sum_over_ranks(values: list[float], device: torch.device) -> list[float]:
    """Each value summed over every torchrun process."""
    import torch.distributed as dist

    totals = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(totals)
    return totals.tolist()


def destroy_distributed() -> None:
    import torch.distributed as dist

    # A gloo worker thread may still have to take the GIL to free its last work item,
    # while the group's destructor joins those threads holding the GIL: about one
    # torchrun run in 100 hung there (py-spy: ~ProcessGroupGloo in std::thread::join, a
    # worker in gil_scoped_acquire). Sleeping hands the GIL over so they finish first.
    time.sleep(0.2)
    dist.destroy_process_group()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for servers and clusters started
    by tests and benchmarks)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
