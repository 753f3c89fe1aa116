"""What the session says: the acknowledgement of a forget request and its error replies, in the user's
words. The session never says "Done" unverified; a failed attempt says that nothing was changed."""

from __future__ import annotations

import re

from repair.edit.record import Verification
from repair.session.reply import Reply

EMPTY = "Empty message: type a question, or ask me to forget something."
NO_TARGET = (
    'I could not tell what to forget. Name it ("forget everything about Maya Taylor"), or ask '
    'right after the answer you want removed ("forget what you just said").'
)


def display_target(target: str) -> str:
    """A target as the acknowledgement names it: a question-shaped one ('What gas do plants absorb') is
    quoted, so the sentence around it still reads."""
    t = target.strip().rstrip("?.! ")
    if t.lower().startswith("my "):
        return "your " + t[3:]
    if re.match(r"^(?:what|who|whom|which|when|where|why|how)\b", t, re.I):
        return f"“{t[0].lower()}{t[1:]}”"
    return t


def short_id(edit_id: str) -> str:
    """The random suffix of an edit id; the ledger resolves it (``undo``) like the full id."""
    return edit_id.rsplit("-", 1)[-1]


def layer_text(layers: list[int]) -> str:
    if not layers:
        return "no layers"
    if len(layers) == 1:
        return f"layer {layers[0]}"
    if layers == list(range(layers[0], layers[-1] + 1)):
        return f"layers {layers[0]}-{layers[-1]}"
    return "layers " + ",".join(map(str, layers))


def where(edit_id: str, layers: list[int], elapsed: float) -> str:
    """The acknowledgement's last part: which edit, where, and how long the request took."""
    return f"(edit {short_id(edit_id)}, {layer_text(layers)}, {elapsed:.1f} s)"


def too_long(n_tokens: int, context: int, reserved: int) -> str:
    return (
        f"The message is too long: {n_tokens} tokens, and this model reads at most {context} (with {reserved} "
        "kept for the reply). Please shorten it."
    )


def nothing_stored(target: str, timings: dict[str, float]) -> Reply:
    return Reply(
        kind="unlearn",
        outcome="unknown_target",
        target=target,
        timings=timings,
        text=f"I have nothing stored about {target}, so there is nothing to remove.",
    )


def broke_guard(target: str, worst: Verification, spent: int) -> str:
    """Every attempt lost too many check questions; ``spent``: how many earlier edits already cost."""
    g = worst.guard
    assert g is not None  # only a counted guard breaks
    why = (
        f" Earlier edits in this session already cost {spent} of them; undo one to free the budget."
        if spent > 0
        else ""
    )
    return (
        f"Could not remove: every edit strong enough to remove information related to {target} also "
        f"broke unrelated answers ({g.kept} of {g.total} check "
        f"questions kept). Nothing was changed.{why}"
    )


def nothing_forgotten(target: str, attempts: int, alpha_max: float) -> str:
    return (
        f"Could not remove: the model still states information related to {target} after "
        f"{attempts} attempt(s) (α up to {alpha_max:g}). Nothing was changed."
    )


def removed(target: str, ver: Verification, where: str) -> str:
    """The acknowledgement of a committed STAMP edit: "Done" only when every check question forgot."""
    if ver.forgotten:
        return f"Done. Information related to {target} has been removed. {where}"
    left = [p.prompt for p in ver.probes if not p.forgotten]
    n = len(ver.probes)
    return (
        f"Partly removed: information related to {target} is gone for {n - len(left)} of {n} test "
        f"questions, but {left[0]!r} still gets it. {where}"
    )


def model_changed(target: str) -> str:
    """Each edit was made on a model that another process's edit or undo changed before it was committed."""
    return (
        f"Could not remove information related to {target}: the model's edits kept changing while I edited "
        "it (another edit or undo was committed meanwhile). Nothing was changed; please ask again."
    )
