"""Split hand-written forget-quality targets into the dev and test files (by a hash of each id).

    python benchmarks/split_fq_targets.py src/repair/data/forget_quality/pool_*.jsonl

Every target is validated against the schema; ids must be unique across all files. A target keeps its
split when others are added (``repair.eval.forget_quality.data.split_of``). Run once, before any engine
work, then commit dev.jsonl and test.jsonl and never edit the test file again.
"""

from __future__ import annotations

import sys
from pathlib import Path

from repair.eval.forget_quality.data import SPLITS, split_of
from repair.eval.forget_quality.schema import Target

OUT = Path(__file__).resolve().parents[1] / "src" / "repair" / "data" / "forget_quality"


def main(paths: list[str]) -> None:
    targets: dict[str, Target] = {}
    for path in paths:
        for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                t = Target.model_validate_json(line)
                if t.id in targets:
                    raise SystemExit(f"{path}:{i}: duplicate id {t.id}")
                targets[t.id] = t
    for split in SPLITS:
        chosen = sorted((t for t in targets.values() if split_of(t.id) == split), key=lambda t: t.id)
        text = "".join(t.model_dump_json(exclude_defaults=True) + "\n" for t in chosen)
        (OUT / f"{split}.jsonl").write_text(text, encoding="utf-8")
        kinds = {k: sum(t.kind == k for t in chosen) for k in ("entity", "fact")}
        print(f"{split}: {len(chosen)} targets {kinds}")


if __name__ == "__main__":
    main(sys.argv[1:])
