"""Fit STAMP-2's refusal vector for a model and write it to ``repair/data/refusal_vectors/<model>.json``
(shipped with the package, so a fresh install does not fit it again).

    python benchmarks/fit_refusal_vector.py --model smollm2-135m-instruct
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import repair
from repair.edit.stamp2 import load_hparams
from repair.edit.stamp2.vector import fit_vector, vector_tag


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--vector", help="VectorConfig fields as JSON (default: the model's hparams file)")
    args = ap.parse_args()
    patient = repair.load(args.model, ledger=False)
    patient.model.to("cuda" if torch.cuda.is_available() else "cpu")
    cfg = load_hparams(
        args.model, patient.n_layers, **({"vector": json.loads(args.vector)} if args.vector else {})
    )
    t0 = time.perf_counter()
    u = fit_vector(patient, cfg.vector_layer, cfg.vector)
    out = Path(repair.__file__).parent / "data" / "refusal_vectors" / f"{args.model}.json"
    entry = {
        "layer": cfg.vector_layer,
        "tag": vector_tag(cfg.vector),
        "vector": [round(x, 6) for x in u.tolist()],
    }
    old = json.loads(out.read_text()) if out.exists() else {}
    # the file keeps one vector per recipe: a recipe may start from another one ("start": "questions")
    kept = [v for v in old.get("vectors", [old] if "vector" in old else []) if v["tag"] != entry["tag"]]
    out.write_text(json.dumps({"model": args.model, "vectors": [*kept, entry]}) + "\n")
    print(f"layer {cfg.vector_layer}, |u| {u.norm():.1f}, {time.perf_counter() - t0:.0f} s -> {out}")


if __name__ == "__main__":
    main()
