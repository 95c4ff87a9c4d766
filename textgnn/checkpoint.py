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


def save_training_state(path: str | Path, tensors: dict[str, Any], state: dict[str, Any]) -> None:
    """Write a resumable training checkpoint as one safetensors file: every tensor (model,
    best model, optimiser moments, RNG states) plus the JSON-able rest in its metadata.
    Written to a temporary file and renamed, so a crash never leaves half a checkpoint."""
    from safetensors.torch import save_file

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp),
              metadata={"state": json.dumps(state)})
    os.replace(tmp, path)


def load_training_state(path: str | Path) -> tuple[dict, dict]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            state = json.loads(handle.metadata()["state"])
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as exc:
        raise TextGNNError(f"{path}: unreadable training checkpoint ({exc})") from None
    return tensors, state
