"""What ``/v1/chat/completions`` sends, as typed models: OpenAI's completion and stream chunks, with the
``repair`` field (the reply's record, a forget request held for confirmation, an edit's progress steps)
and the usage. The JSON is OpenAI's: a field marked optional below appears only where it was given (a
chunk's ``delta`` holds the role or the content it carries; only the "detect" step names a target)."""

from __future__ import annotations

import secrets
import time
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from repair.session.reply import Reply

Step = Literal["detect", "plan", "edit", "verify", "commit"]


class _Given(BaseModel):
    """A model whose fields named in ``OPTIONAL`` are written only when they were given."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out = handler(self)
        for name in self.OPTIONAL:
            if name not in self.model_fields_set:
                out.pop(name, None)
        return out


class Progress(_Given):
    """One step of a forget request as it runs (a stream chunk's ``repair.progress``)."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("target",)
    step: Step
    text: str
    target: str | None = None  # the "detect" step's: what is to be forgotten (null when none was named)


class Confirmation(BaseModel):
    """What a forget request would do, for the client to confirm (``confirm_edits``): its target and the
    questions the model would stop answering."""

    target: str
    questions: list[str]
    text: str


class Record(Reply, _Given):
    """The ``repair`` field: the reply less its text; a forget request held for confirmation is kind
    "confirm", with what it would do."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("confirm",)
    text: str = Field(exclude=True)  # the completion's message content
    kind: Literal["chat", "unlearn", "error", "confirm"]  # type: ignore[assignment]
    confirm: Confirmation | None = None

    @classmethod
    def of(cls, reply: Reply, pending: Confirmation | None) -> Record:
        if pending is None:
            return cls(**dict(reply))
        return cls(**(dict(reply) | {"kind": "confirm", "confirm": pending}))


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, prompt: int, completion: int) -> Usage:
        return cls(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


class Message(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: Message
    finish_reason: Literal["stop"] = "stop"


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


class Completion(BaseModel):
    """A whole reply in OpenAI's ``chat.completion`` shape, plus ``repair``."""

    id: str = Field(default_factory=completion_id)
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[Choice]
    usage: Usage
    repair: Record


class Delta(_Given):
    OPTIONAL: ClassVar[tuple[str, ...]] = ("role", "content")
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ProgressNote(BaseModel):
    """A progress chunk's ``repair`` field."""

    progress: Progress


class Chunk(_Given):
    """One server-sent event of a stream (``chat.completion.chunk``); the last carries the reply's
    record and the usage."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("repair", "usage")
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    repair: ProgressNote | Record | None = None
    usage: Usage | None = None
