"""Requests for a global edit, held for an admin: a user may ask that data about themselves, or about a
named private person, be erased for everyone; general knowledge is never erased globally on one user's
word, so every such request waits for an admin's decision (``/v1/review``).

The queue is a JSON file in the session folder (or memory only). A request's words name what is to be
forgotten, so they are dropped from the file once it is decided; the record of the decision stays.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["pending", "approved", "rejected"]


class ReviewItem(BaseModel):
    id: str
    status: Status = "pending"
    requested_by: str
    scope: str
    created: float
    prompt: str | None = None  # dropped once decided
    target: str | None = None  # dropped once decided
    reason: str | None = None  # dropped once decided
    decided: float | None = None
    decided_by: str | None = None
    edit_id: str | None = None
    outcome: str | None = None


class ReviewRequest(BaseModel):
    """A user's request for a global edit: about themselves or a named private person."""

    prompt: str = Field(min_length=1, max_length=4000)
    target: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=1000)
    user: str | None = Field(default=None, max_length=64)


class Decision(BaseModel):
    approve: bool


class ReviewQueue:
    """Pending and decided requests, persisted in ``path`` (atomically replaced) when given."""

    def __init__(self, path: Path | None, max_pending: int = 1000) -> None:
        self.path, self.max_pending = path, max_pending
        self._lock = threading.Lock()
        self.items: dict[str, ReviewItem] = {}
        if path is not None and path.exists():
            for raw in json.loads(path.read_text(encoding="utf-8")):
                item = ReviewItem.model_validate(raw)
                self.items[item.id] = item

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([i.model_dump() for i in self.items.values()], indent=1), encoding="utf-8")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def add(self, req: ReviewRequest, requested_by: str, scope: str) -> ReviewItem:
        with self._lock:
            if sum(i.status == "pending" for i in self.items.values()) >= self.max_pending:
                raise OverflowError("too many requests are waiting for review")
            item = ReviewItem(
                id="rev-" + secrets.token_hex(6),
                requested_by=requested_by,
                scope=scope,
                created=time.time(),
                prompt=req.prompt,
                target=req.target,
                reason=req.reason,
            )
            self.items[item.id] = item
            self._save()
            return item

    def pending(self, item_id: str) -> ReviewItem:
        item = self.items.get(item_id)
        if item is None:
            raise KeyError(item_id)
        if item.status != "pending":
            raise ValueError(f"request {item_id} is already {item.status}")
        return item

    def decide(
        self, item_id: str, approved: bool, by: str, edit_id: str | None = None, outcome: str | None = None
    ) -> ReviewItem:
        with self._lock:
            item = self.pending(item_id)
            item.status = "approved" if approved else "rejected"
            item.decided, item.decided_by, item.edit_id, item.outcome = time.time(), by, edit_id, outcome
            item.prompt = item.target = item.reason = None
            self._save()
            return item

    def visible(self, scope: str, admin: bool) -> list[ReviewItem]:
        return [i for i in self.items.values() if admin or i.scope == scope]
