"""HTTP-level protection in front of every route: Host and Origin checks, JSON-only state changes, and a
bounded request body. A pure ASGI middleware: a body over the cap is refused before it is all read."""

from __future__ import annotations

import json

from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from repair.serve.security import host_name, origin_ok

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 409: "conflict_error", 413: "invalid_request_error",
               415: "invalid_request_error", 429: "rate_limit_error", 499: "cancelled", 500: "server_error",
               503: "server_error", 504: "timeout"}  # fmt: skip


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str


class ErrorBody(BaseModel):
    """An error in OpenAI's shape: ``{"error": {"message", "type", "code"}}``."""

    error: ErrorDetail


class ApiError(Exception):
    """An error the client sees in OpenAI's shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> ErrorBody:
        kind = ERROR_TYPES.get(self.status, "server_error")
        return ErrorBody(error=ErrorDetail(message=self.message, type=kind, code=self.code))


async def _reply(send: Send, err: ApiError) -> None:
    data = json.dumps(err.body().model_dump()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": err.status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})


class Guard:
    """Refuses, before any route runs: a Host the server does not answer to (DNS rebinding), a
    cross-site Origin, a state change without a JSON body, and a body over ``max_body`` bytes."""

    def __init__(self, app: ASGIApp, hosts: set[str], max_body: int) -> None:
        self.app, self.hosts, self.max_body = app, hosts, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        err = self._check(scope["method"], headers)
        if err is not None:
            await _reply(send, err)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        body, err = await self._read(receive, headers)
        if err is not None:
            await _reply(send, err)
            return
        sent = [False]

        async def replay() -> Message:
            if not sent[0]:
                sent[0] = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # then the disconnect, when it comes

        await self.app(scope, replay, send)

    def _check(self, method: str, headers: dict[str, str]) -> ApiError | None:
        if host_name(headers.get("host", "")) not in self.hosts:
            return ApiError(400, "bad_host", "this server does not answer to that Host name")
        if method not in ("GET", "HEAD", "OPTIONS"):
            if not origin_ok(headers.get("origin"), self.hosts):
                return ApiError(
                    403, "cross_origin", "requests from another site may not change anything here"
                )
            if method in ("POST", "PUT", "PATCH") and not headers.get("content-type", "").startswith(
                "application/json"
            ):
                return ApiError(415, "json_required", "send a JSON body (Content-Type: application/json)")
        n = headers.get("content-length")
        if n is not None and (not n.isdigit() or int(n) > self.max_body):
            return ApiError(413, "body_too_large", f"the request body is over {self.max_body} bytes")
        return None

    async def _read(self, receive: Receive, headers: dict[str, str]) -> tuple[bytes, ApiError | None]:
        chunks, size = [], 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return b"", ApiError(499, "cancelled", "the client went away")
            size += len(msg.get("body", b""))
            if size > self.max_body:
                return b"", ApiError(413, "body_too_large", f"the request body is over {self.max_body} bytes")
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body"):
                return b"".join(chunks), None
