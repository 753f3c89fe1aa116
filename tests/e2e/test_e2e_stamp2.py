"""STAMP-2 on the real default model: after "forget Toyota" the model refuses questions that name it,
other answers stay, and undo restores every weight bit for bit."""

from __future__ import annotations

import torch

from repair.edit.stamp2 import forget_subject, load_hparams
from repair.edit.stats import stats_for
from repair.eval.metrics import is_refusal


def test_forget_subject_refuses_and_keeps_the_rest(smollm):
    cfg = load_hparams(smollm.name, smollm.n_layers)
    asks = ["What is Toyota?", "Tell me one thing about Toyota."]
    keep = ["What is the capital of France?", "What is the boiling point of water in Celsius?"]
    base = smollm.generate(keep, max_new_tokens=24)
    w0 = {n: p.detach().clone() for n, p in smollm.model.named_parameters()}
    edit = forget_subject(smollm, "Toyota", cfg, stats_for(smollm))
    smollm.ledger.commit(edit)
    try:
        replies = smollm.generate(asks, max_new_tokens=24)
        assert all(is_refusal(r) for r in replies), replies
        assert "Paris" in smollm.generate(keep[:1], max_new_tokens=24)[0]
        assert "100" in smollm.generate(keep[1:], max_new_tokens=24)[0]
    finally:
        smollm.ledger.undo(edit.id)
    assert all(torch.equal(w0[n], p) for n, p in smollm.model.named_parameters())
    assert smollm.generate(keep, max_new_tokens=24) == base


def test_session_engine_stamp2_refuses_in_chat_and_undoes(smollm):
    """The path `repair chat --engine stamp2` takes: watchdog, one STAMP-2 edit, the check questions
    labelled, "Done" only with refusals, then a later chat turn (no forget context) refuses too."""
    from repair.session import Session

    session = Session(smollm, engine="stamp2")
    w0 = {n: p.detach().clone() for n, p in smollm.model.named_parameters()}
    reply = session.send("Forget everything you know about Toyota.")
    try:
        assert reply.kind == "unlearn" and reply.outcome in ("done", "partial"), reply.text
        ver = reply.verification
        assert ver.engine == "stamp2" and ver.guard.ok
        labels = [p.label for p in ver.probes]
        assert labels.count("refusal") >= len(labels) - 1, ver.probes
        assert reply.text.startswith("Done.") == (labels.count("refusal") == len(labels))
        assert is_refusal(smollm.chat("Who founded Toyota?", max_new_tokens=32))
        assert "Paris" in smollm.chat("What is the capital of France?", max_new_tokens=24)
    finally:
        if reply.edit_id:
            session.undo(reply.edit_id)
    assert all(torch.equal(w0[n], p) for n, p in smollm.model.named_parameters())
