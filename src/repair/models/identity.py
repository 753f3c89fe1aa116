"""A model's identity: the sha256 of its weight files' contents, cached per file under (device, inode,
size, mtime_ns, ctime_ns). A copy made with ``cp -p``, rsync or tar keeps name, size and mtime but gets a
new inode and ctime, so it is hashed again: another model's weights never pass for these."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from repair.models.loader import repair_home

CACHE = "fingerprints.json"


def _stat_key(path: Path) -> str:
    st = path.stat()
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _load_cache(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}


def weights_fingerprint(files: list[Path]) -> str:
    """sha256 over the files' names and content hashes (each hashed once per stat key)."""
    cache_path = repair_home() / CACHE
    cache = _load_cache(cache_path)
    h = hashlib.sha256(b"repair-weights/2\n")
    dirty = False
    for f in sorted(files, key=lambda p: p.name):
        real = str(f.resolve())
        key = _stat_key(f)
        hit = cache.get(real)
        if not hit or hit.get("stat") != key:
            hit = cache[real] = {"stat": key, "sha256": file_sha256(f)}
            dirty = True
        h.update(f"{f.name}:{hit['sha256']}\n".encode())
    if dirty:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_name(f".{CACHE}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(cache, indent=1))
        os.replace(tmp, cache_path)
    return "sha256:" + h.hexdigest()


def legacy_fingerprint(files: list[Path]) -> str:
    """The identity ledgers before format 2 recorded (names, sizes, mtimes): accepted only to open them."""
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def weight_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
