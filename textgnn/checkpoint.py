"""Model directories in the ``save_pretrained`` convention, without pickle.

    config.json        format version + everything needed to rebuild the pipeline
    model.safetensors  weights
    vocab.json         token vocabulary
    labels.json        label names, in logit order
    pretrained/        (models on a pretrained encoder) its config, tokenizer files and,
                       when frozen, its safetensors weights, copied verbatim
    manifest.json      SHA-256 of each file above, checked on load when present

A name that is not a local directory is fetched from the Hugging Face hub
(``huggingface_hub.snapshot_download``) and then read the same way.

A run's training checkpoint (``checkpoint.safetensors``, written after every epoch) is one
safetensors file too: the model, the best epoch's model, the optimiser's moments and every
random state as tensors, the rest as JSON in its metadata.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .errors import TextGNNError

FORMAT_VERSION = 1
FILES = ("config.json", "model.safetensors", "vocab.json", "labels.json")
CHECKPOINT = "checkpoint.safetensors"  # in a run directory


PRETRAINED = "pretrained"


def save_model_dir(path: str | Path, meta: dict[str, Any], state_dict: dict, vocab: dict,
                   labels: list[str], pretrained_files: list[Path] = ()) -> Path:
    """``pretrained_files`` are copied byte for byte into ``pretrained/``."""
    import shutil

    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if pretrained_files:
        (path / PRETRAINED).mkdir(exist_ok=True)
        for file in pretrained_files:
            shutil.copyfile(file, path / PRETRAINED / file.name)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})
    (path / "config.json").write_text(json.dumps({"format_version": FORMAT_VERSION, **meta}, indent=2))
    (path / "vocab.json").write_text(json.dumps(vocab))
    (path / "labels.json").write_text(json.dumps(labels, indent=2))
    names = [*FILES, *(f"{PRETRAINED}/{f.name}" for f in pretrained_files)]
    manifest = {name: _sha256(path / name) for name in names}
    (path / "manifest.json").write_text(json.dumps({"sha256": manifest}, indent=2))
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_manifest(path: Path) -> None:
    """A model directory that ships a manifest must match it byte for byte."""
    manifest = path / "manifest.json"
    if not manifest.is_file():
        return
    expected = _read_json(manifest)
    if not isinstance(expected, dict) or not isinstance(expected.get("sha256"), dict):
        raise TextGNNError(f"{manifest}: expected {{\"sha256\": {{file: digest}}}}")
    for name, digest in expected["sha256"].items():
        parts = Path(name).parts
        if name not in FILES and not (len(parts) == 2 and parts[0] == PRETRAINED
                                      and parts[1] not in (".", "..")):
            raise TextGNNError(f"{manifest}: lists unexpected file {name!r}")
        if not (path / name).is_file():
            raise TextGNNError(f"{path}: missing {name}")
        if _sha256(path / name) != digest:
            raise TextGNNError(f"{path / name}: SHA-256 does not match manifest.json "
                               "(file changed or corrupted)")


def resolve_model_dir(name_or_path: str | Path) -> Path:
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise TextGNNError(f"{path}: a model is a directory holding {', '.join(FILES)}")
    name = str(name_or_path)
    if name.count("/") != 1 or name.startswith((".", "/")):
        raise TextGNNError(f"model directory not found: {path}")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name, allow_patterns=[*FILES, "manifest.json",
                                                            f"{PRETRAINED}/*"]))
    except Exception as exc:  # offline, missing repo, auth: say what was tried
        raise TextGNNError(f"model {name!r}: no such directory, and the hub download failed "
                           f"({type(exc).__name__}: {exc})") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise TextGNNError(f"{path.parent}: missing {path.name}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TextGNNError(f"{path}: not valid JSON ({exc})") from None


def load_model_dir(name_or_path: str | Path) -> tuple[dict, dict, dict, list[str]]:
    """Read (meta, state_dict, vocab, labels) from a model directory; weights via safetensors."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = resolve_model_dir(name_or_path)
    _check_manifest(path)
    meta = _read_json(path / "config.json")
    if not isinstance(meta, dict) or not isinstance(meta.get("format_version"), int):
        raise TextGNNError(f"{path / 'config.json'}: no integer format_version")
    if meta["format_version"] > FORMAT_VERSION:
        raise TextGNNError(
            f"{path / 'config.json'}: format version {meta['format_version']} is newer than this "
            f"textgnn understands ({FORMAT_VERSION}); upgrade textgnn"
        )
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise TextGNNError(f"{path}: missing model.safetensors")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise TextGNNError(f"{weights}: not a readable safetensors file ({exc})") from None
    return meta, state, _read_json(path / "vocab.json"), _read_json(path / "labels.json")


def save_checkpoint(path: Path, model, best_state: dict, optimizer, sampler,
                    state: dict[str, Any], average: dict | None = None) -> None:
    """Everything a killed run needs to continue as if it never stopped: weights, the best
    epoch's weights, the optimiser's moments, the moving average of the weights
    (``average``, with ``train.ema``), the Python / NumPy / torch (CPU and GPU) random
    states and the batch sampler's, plus ``state`` (epoch, best score, history ...). Written
    to a temporary file and renamed, so a crash never leaves half a checkpoint."""
    import random

    import numpy as np
    import torch
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors |= {f"best.{k}": v for k, v in best_state.items()}
    tensors |= {f"ema.{k}": v for k, v in (average or {}).items()}
    opt = optimizer.state_dict()
    for index, moments in opt["state"].items():
        tensors |= {f"optim.{index}.{name}": value for name, value in moments.items()}
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.sampler"] = sampler.generator.get_state()
    if torch.cuda.is_initialized():  # dropout on a GPU draws from the GPU's own generators
        tensors["rng.cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    np_state = np.random.get_state()
    tensors["rng.numpy"] = torch.from_numpy(np_state[1].astype(np.int64))
    version, internal, gauss = random.getstate()
    meta = state | {
        "optimizer_groups": opt["param_groups"],
        "rng_python": [version, list(internal), gauss],
        "rng_numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
    }
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp),
              metadata={"state": json.dumps(meta)})
    os.replace(tmp, path)


def checkpoint_state(path: Path) -> dict[str, Any] | None:
    """The JSON state a training checkpoint holds (epoch, history, the wall and CPU seconds
    spent so far ...) without reading its tensors; None where there is no checkpoint."""
    return _read_checkpoint(path, tensors=False)[0] if path.is_file() else None


def _read_checkpoint(path: Path, tensors: bool) -> tuple[dict[str, Any], dict]:
    """A checkpoint's JSON state and (``tensors``) its tensors, or one clear error."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return (json.loads(handle.metadata()["state"]),
                    {k: handle.get_tensor(k) for k in handle.keys()} if tensors else {})  # noqa: SIM118
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as exc:
        raise TextGNNError(f"{path}: unreadable training checkpoint ({exc})") from None


def restore_checkpoint(path: Path, model, optimizer, sampler,
                       average=None) -> tuple[dict, dict]:
    """Load what :func:`save_checkpoint` wrote into ``model``, ``optimizer``, ``sampler``,
    the moving average of the weights (``average``, a module, with ``train.ema``) and the
    global random states; returns (state, the best epoch's weights)."""
    import random

    import numpy as np
    import torch

    state, tensors = _read_checkpoint(path, tensors=True)

    def take(prefix: str) -> dict:
        return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}

    model.load_state_dict(take("model."))
    if average is not None:
        if not (saved := take("ema.")):
            raise TextGNNError(f"{path}: written without train.ema; its run cannot resume "
                               "with it")
        average.load_state_dict(saved)
    moments: dict[int, dict] = {}
    for key, value in take("optim.").items():
        index, name = key.split(".", 1)
        moments.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": moments, "param_groups": state.pop("optimizer_groups")})
    torch.set_rng_state(tensors["rng.torch"])
    sampler.generator.set_state(tensors["rng.sampler"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(tensors["rng.cuda"])[:torch.cuda.device_count()])
    version, internal, gauss = state.pop("rng_python")
    random.setstate((version, tuple(internal), gauss))
    name, pos, has_gauss, cached = state.pop("rng_numpy")
    np.random.set_state((name, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss,
                         cached))
    return state, take("best.")
