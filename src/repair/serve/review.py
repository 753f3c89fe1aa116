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

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Status = Literal["pending", "approved", "rejected"]
About = Literal["self", "person"]  # the caller's own data; a named private person


class Policy(BaseModel):
    """Which requests for a global edit the server queues for an admin: ``repair serve --policy FILE``::

        [review]
        enabled = true                # users may ask for global edits (POST /v1/review); false: 403
        about = ["self", "person"]    # what a request may concern: the caller's own data, a private person
        max_pending = 1000            # requests waiting for a decision (more: 429)

    General knowledge is not among the choices: it is never erased globally on one user's word."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    about: list[About] = Field(default_factory=lambda: ["self", "person"])
    max_pending: int = Field(default=1000, ge=1, le=100_000)

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        """The file's [review] table; a ValueError of one line for anything amiss."""
        import tomllib

        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            unknown = set(raw) - {"review"}
            if unknown:
                raise ValueError(f"unknown table(s) {sorted(unknown)}: only [review]")
            return cls.model_validate(raw.get("review", {}))
        except (OSError, tomllib.TOMLDecodeError, ValueError) as e:
            if isinstance(e, ValidationError):
                err = e.errors()[0]
                e = ValueError(f"review.{'.'.join(map(str, err['loc']))}: {err['msg']}")
            raise ValueError(f"policy file {path}: {e}") from None


class ReviewItem(BaseModel):
    id: str
    status: Status = "pending"
    about: About = "self"
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
    about: About = "self"  # the caller's own data, or a named private person ("person")
    target: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=1000)
    user: str | None = Field(default=None, max_length=64)


class Decision(BaseModel):
    approve: bool


class ReviewList(BaseModel):
    """``GET /v1/review``: the requests the caller's scope made (an admin: all)."""

    object: Literal["list"] = "list"
    data: list[ReviewItem]


class ReviewQueue:
    """Pending and decided requests, persisted in ``path`` (atomically replaced) when given."""

    def __init__(self, path: Path | None, policy: Policy | None = None) -> None:
        self.path, self.policy = path, policy or Policy()
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
        """Queue ``req``; PermissionError where the policy does not take it, OverflowError when full."""
        if not self.policy.enabled:
            raise PermissionError("this server takes no requests for global edits")
        if req.about not in self.policy.about:
            raise PermissionError(f"this server takes requests about {' or '.join(self.policy.about)} only")
        with self._lock:
            if sum(i.status == "pending" for i in self.items.values()) >= self.policy.max_pending:
                raise OverflowError("too many requests are waiting for review")
            item = ReviewItem(
                id="rev-" + secrets.token_hex(6),
                about=req.about,
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
