"""The edits routes: list, show, undo, export as LoRA, and ``/v1/forget`` (an explicit request), each
within the caller's scope."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from repair.edit.ledger import EditRecord
from repair.serve.calls import caller, hub_of, submit, wait
from repair.serve.guard import ApiError
from repair.serve.hub import Hub
from repair.serve.security import GLOBAL, Caller
from repair.serve.stream import reply_error
from repair.session.reply import Reply

router = APIRouter()


class EditSummary(BaseModel):
    """One edit as ``/v1/edits`` shows it: figures only (the forgotten text is sealed in the ledger)."""

    id: str
    status: str
    scope: str
    created: float
    undone: float | None
    layers: list[int]
    maps: list[str]
    alpha: float | None
    target: str | None
    forgotten: bool | None
    requested_by: str | None

    @classmethod
    def of(cls, rec: EditRecord) -> EditSummary:
        meta = rec.meta
        return cls(
            id=rec.id, status=rec.status, scope=rec.scope, created=rec.created, undone=rec.undone,
            layers=rec.layers, maps=rec.maps, alpha=meta.alpha, target=meta.target,
            forgotten=meta.verification.forgotten if meta.verification else None,
            requested_by=meta.requested_by,
        )  # fmt: skip


class EditList(BaseModel):
    object: Literal["list"] = "list"
    data: list[EditSummary]


class ForgetRequest(BaseModel):
    """An explicit forget request: the model's own answer to ``prompt`` is what is forgotten."""

    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(min_length=1, max_length=4000)
    target: str | None = Field(default=None, max_length=200)
    user: str | None = Field(default=None, max_length=64)


class UndoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=500)


class Undone(BaseModel):
    """What an undo answers: the edit, its new status and its scope."""

    id: str
    status: str
    scope: str


class ForgetReply(Reply):
    """What ``/v1/forget`` answers: the session's reply, in the caller's scope."""

    object: Literal["repair.forget"] = "repair.forget"
    scope: str


@router.get("/v1/edits")
def edits(request: Request, all: bool = False) -> EditList:  # noqa: A002 - the query parameter's name
    hub = hub_of(request)
    who = caller(request)
    items = hub.patient.ledger.list(include_undone=all, scope=None if who.scope == GLOBAL else who.scope)
    return EditList(data=[EditSummary.of(m) for m in items])


@router.get("/v1/edits/{edit_id}")
def edit(edit_id: str, request: Request) -> EditSummary:
    hub = hub_of(request)
    return EditSummary.of(_visible(hub, caller(request), edit_id))


async def undo_edit(edit_id: str, request: Request) -> Undone:
    hub = hub_of(request)
    who = caller(request)
    rec = _visible(hub, who, edit_id)
    if not who.may_touch(rec.scope):
        raise ApiError(403, "forbidden", "only an admin key may undo a global edit")
    if rec.status != "active":
        raise ApiError(409, "not_active", f"edit {edit_id} is {rec.status}")
    job = await submit(request, lambda j: hub.undo(j, rec.id), rec.scope, hub.limits.timeout_s)
    m = await wait(job, request)
    return Undone(id=m.id, status=m.status, scope=rec.scope)


@router.post("/v1/edits/{edit_id}/undo")
async def undo_post(edit_id: str, body: UndoRequest, request: Request) -> Undone:
    return await undo_edit(edit_id, request)


@router.delete("/v1/edits/{edit_id}")
async def undo_delete(edit_id: str, request: Request) -> Undone:
    return await undo_edit(edit_id, request)


@router.post("/v1/forget")
async def forget(req: ForgetRequest, request: Request) -> ForgetReply:
    hub = hub_of(request)
    who = caller(request, req.user)
    if not who.edit:
        raise ApiError(403, "forbidden", "this API key may not ask the model to forget")
    job = await submit(
        request, lambda j: hub.forget(j, req.prompt, req.target), who.scope, hub.limits.edit_timeout_s
    )
    reply = await wait(job, request)
    if reply.kind == "error":
        raise reply_error(reply)
    return ForgetReply(**dict(reply), scope=who.scope)


@router.get("/v1/edits/{edit_id}/lora", response_model=None)
async def lora(edit_id: str, request: Request, ungated: bool = False) -> Response:
    """``?ungated=true``: a gated edit's plain update (no LoRA pair holds a gate; see docs/method.md)."""
    hub = hub_of(request)
    rec = _visible(hub, caller(request), edit_id)
    if rec.status != "active":
        raise ApiError(409, "not_active", f"edit {edit_id} is {rec.status}")
    if not ungated and any(d.kind == "gated" for d in rec.deltas):
        raise ApiError(
            409,
            "gated",
            f"edit {edit_id} is gated (it acts only where its subject is named), which no LoRA pair holds; "
            "ask with ?ungated=true for its plain update, which acts a little on every input",
        )
    job = await submit(request, lambda j: hub.lora(j, rec.id, ungated), rec.scope, hub.limits.timeout_s)
    data = await wait(job, request)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{edit_id}-lora.zip"'},
    )


def _visible(hub: Hub, who: Caller, edit_id: str) -> EditRecord:
    """The record with exactly this id, if the caller's scope sees it (else 404: nothing is told)."""
    for m in hub.patient.ledger.list(include_undone=True):
        if m.id == edit_id and (who.admin or m.scope in (GLOBAL, who.scope)):
            return m
    raise ApiError(404, "not_found", f"no edit '{edit_id}'")
