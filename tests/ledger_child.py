"""A separate process on a ledger folder, for the crash and two-process tests (run as a script).

python tests/ledger_child.py ROOT commit ID SEED [LAYER]   commit one edit (REPAIR_CRASH_AT may kill it)
python tests/ledger_child.py ROOT undo ID | purge ID|all | open
python tests/ledger_child.py ROOT forget-request   a session (folder: ROOT's parent) asked to forget its last
                                                answer; the edit engine is stubbed, the rest is the chat's
python tests/ledger_child.py ROOT serve        a server-like loop: reads commands on stdin, one per line
                                                ("sync", "commit ID SEED", "undo ID"), answers one JSON line
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from conftest import tiny_llama_model

torch.set_num_threads(1)


def tiny_llama():
    return tiny_llama_model()


def make_edit(eid: str, seed: int, layer: int = 1):
    from repair.edit.delta import Edit, MapDelta

    g = torch.Generator().manual_seed(seed)
    b, a = torch.randn(32, 2, generator=g) * 0.1, torch.randn(2, 64, generator=g)
    keys = torch.randn(2, 64, generator=g)
    meta = {
        "forget": [[f"secret question {eid}?", f"The secret answer {eid}."]],
        "target": f"secret {eid}",
        "alpha": 2.0,
    }
    return Edit(eid, [MapDelta(layer, "down", b=b, a=a, keys=keys)], meta=meta)


SEEDS = {"e1": 1, "e2": 2, "e3": 3, "s1": 11, "p1": 12}


def write_v1(root: Path, ids: list[str], fingerprint: str = "fp", meta: dict | None = None) -> None:
    """A ledger as format 1 wrote it: one JSON manifest and one delta file (with keys) per edit. ``meta``:
    the manifests' record as written then (default: the edit's own)."""
    import hashlib

    from safetensors.torch import save_file

    root.mkdir(parents=True, exist_ok=True)
    for seq, eid in enumerate(ids, 1):
        e = make_edit(eid, SEEDS[eid])
        d = e.deltas[0]
        path = root / f"{eid}.safetensors"
        save_file(
            {f"{d.key}.B": d.b, f"{d.key}.A": d.a, f"{d.key}.keys": d.keys},
            str(path),
            metadata={"edit_id": eid},
        )
        manifest = {
            "format": "repair-ledger/1", "id": eid, "created": 1.0 + seq, "seq": seq, "status": "active",
            "fingerprint": fingerprint, "deltas_file": path.name,
            "deltas_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "deltas": [{"layer": d.layer, "map": d.map, "kind": "lora", "rank": 2}], "layers": [d.layer],
            "maps": [d.map], "timings": {}, "meta": e.meta.dump() if meta is None else meta,
        }  # fmt: skip
        (root / f"{eid}.json").write_text(json.dumps(manifest))


def checksum(model) -> str:
    import hashlib

    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().float().numpy().tobytes())
    return h.hexdigest()


def answer(ledger) -> dict:
    return {"active": [e.id for e in ledger.active], "sum": checksum(ledger.model), "version": ledger.version}


def forget_request(ledger, session_dir: Path) -> None:
    """A chat turn stored, then "Forget what you just told me." sent to a `Session` over that folder: the
    watchdog, the check questions and the edit engine are stubbed (edit "e9"), the surgeon's plan, the
    settling and the commit (with the session's turns) are the session's own."""
    from types import SimpleNamespace

    from repair.agents.watchdog import Verdict
    from repair.edit.ledger import Turn
    from repair.edit.record import GuardCheck, Verification
    from repair.session import Session
    from repair.session.pipeline import Trial, Tried, Unlearning

    q, a = "secret question e9?", "The secret answer e9."
    ledger.history.append(
        [Turn(role="user", content=q, kind="chat"), Turn(role="assistant", content=a, kind="chat")]
    )

    class Watchdog:
        def inspect(self, msgs, message):
            return Verdict(intent="unlearn", confidence=1.0, target="e9", pairs=[(q, a)], source="history")

    def attempt(self, kwargs, trial):
        ver = Verification(forgotten=True, fraction=1.0, guard=GuardCheck(kept=0, total=0, ok=True))
        return Tried(make_edit("e9", 9), ver, [])

    Unlearning._trial = lambda self, req, paraphrases: Trial(a, [], a, [], 0, None)
    Unlearning._attempt = attempt
    model = ledger.model
    patient = SimpleNamespace(
        model=model, arch=ledger.arch, fingerprint="fp", name="tiny", ledger=ledger, tokenizer=None,
        n_layers=3, cache={},
    )  # fmt: skip
    reply = Session(patient, watchdog=Watchdog(), session_dir=session_dir).send(
        "Forget what you just told me."
    )
    assert reply.edit_id == "e9", reply


def main() -> None:
    from repair.edit.ledger import Ledger, Turn
    from repair.models.arch import arch_for

    root, op, *args = sys.argv[1:]
    model = tiny_llama()
    ledger = Ledger(model, arch_for(model), "fp", Path(root))
    ledger.load()
    if op == "commit":
        ledger.commit(make_edit(args[0], int(args[1]), int(args[2]) if len(args) > 2 else 1))
    elif op == "undo":
        ledger.undo(args[0])
    elif op == "forget-turns":  # a session's turns and the edit that forgets them, in one transaction
        ids = ledger.history.append(
            [
                Turn(role="user", content="secret question e9?", kind="chat"),
                Turn(role="assistant", content="The secret answer e9.", kind="chat"),
            ]
        )
        ledger.commit(make_edit("e9", 9), redact_turns=ids)
    elif op == "forget-request":
        forget_request(ledger, Path(root).parent)
    elif op == "migrate-history":
        from repair.edit.ledger.migrate import migrate_history

        migrate_history(ledger.store, Path(root).parent / "history.json")
    elif op == "purge":
        ledger.purge(None if args[0] == "all" else [args[0]])
    elif op == "serve":
        print(json.dumps({"ready": True, **answer(ledger)}), flush=True)
        for line in sys.stdin:
            cmd, *rest = line.split()
            try:
                if cmd == "sync":
                    ledger.sync()
                elif cmd == "commit":
                    ledger.sync()
                    ledger.commit(make_edit(rest[0], int(rest[1])))
                elif cmd == "undo":
                    ledger.sync()
                    ledger.undo(rest[0])
                print(json.dumps(answer(ledger)), flush=True)
            except Exception as e:  # noqa: BLE001 - reported to the test
                print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
        return
    print(json.dumps(answer(ledger)), flush=True)


if __name__ == "__main__":
    main()
