"""The review routes: a global edit (data about oneself, a private person) is asked for, then an admin
approves it (the edit runs) or rejects it."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from repair.serve.calls import caller, hub_of, submit, wait
from repair.serve.guard import ApiError
from repair.serve.review import Decision, ReviewItem, ReviewList, ReviewRequest
from repair.serve.security import GLOBAL
from repair.session.reply import Reply

router = APIRouter()


class Approved(ReviewItem):
    """An approved request, with the reply of the edit that ran."""

    reply: Reply


class StillPending(BaseModel):
    """An approval whose edit changed nothing: the request stays pending."""

    id: str
    status: Literal["pending"] = "pending"
    reply: Reply


@router.post("/v1/review", status_code=202)
def review_ask(req: ReviewRequest, request: Request) -> ReviewItem:
    hub = hub_of(request)
    who = caller(request, req.user)
    try:
        return hub.review.add(req, who.name, who.scope)
    except OverflowError as e:
        raise ApiError(429, "queue_full", str(e)) from None
    except PermissionError as e:
        raise ApiError(403, "policy", str(e)) from None


@router.get("/v1/review")
def review_list(request: Request) -> ReviewList:
    hub = hub_of(request)
    who = caller(request)
    return ReviewList(data=hub.review.visible(who.scope, who.admin))


@router.post("/v1/review/{item_id}", response_model=None)
async def review_decide(item_id: str, body: Decision, request: Request) -> ReviewItem | StillPending:
    hub = hub_of(request)
    who = caller(request)
    if not who.admin:
        raise ApiError(403, "forbidden", "only an admin key decides on global edits")
    try:
        item = hub.review.pending(item_id)
    except KeyError:
        raise ApiError(404, "not_found", f"no review request '{item_id}'") from None
    except ValueError as e:
        raise ApiError(409, "decided", str(e)) from None
    if not body.approve:
        return hub.review.decide(item_id, False, who.name)
    prompt, target = item.prompt or "", item.target
    job = await submit(request, lambda j: hub.forget(j, prompt, target), GLOBAL, hub.limits.edit_timeout_s)
    reply = await wait(job, request)
    if reply.kind == "error" or not reply.edit_id:  # nothing changed: the request stays pending
        return StillPending(id=item_id, reply=reply)
    decided = hub.review.decide(item_id, True, who.name, reply.edit_id, reply.outcome)
    return Approved(**dict(decided), reply=reply)
