"""Who may call the server, and from where: API keys with scopes and permissions, Host and Origin checks.

keys.toml (``repair serve --keys keys.toml``)::

    [[key]]
    name = "alice"            # shown in the edits' "requested_by"
    key = "sk-alice-..."      # the secret a client sends as ``Authorization: Bearer sk-alice-...``
                              # (or sha256 = "<hex>" to keep only its hash in the file)
    scope = "alice"           # whose edits its forget requests make and see (default: the name)
    edit = true               # may ask to forget (in its scope)
    users = false             # may set the OpenAI ``user`` field: each user then has a scope of its own
    admin = false             # its scope is the global one: its edits change every scope's answers

Without a keys file the server is loopback-only and makes one admin key for the local operator.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import ipaddress
import re
import secrets
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

GLOBAL = "global"
USER_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class KeySpec(BaseModel):
    """One API key: its secret (or the secret's sha256), scope and permissions."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    key: str | None = Field(default=None, min_length=16)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    scope: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    edit: bool = True
    users: bool = False
    admin: bool = False

    @model_validator(mode="after")
    def _one_secret(self) -> KeySpec:
        if (self.key is None) == (self.sha256 is None):
            raise ValueError(f"key {self.name!r}: give exactly one of 'key' and 'sha256'")
        if self.admin and self.scope not in (None, GLOBAL):
            raise ValueError(f"key {self.name!r}: an admin key's scope is the global one")
        return self

    @property
    def digest(self) -> str:
        return self.sha256 or hashlib.sha256((self.key or "").encode()).hexdigest()

    @property
    def home(self) -> str:
        return GLOBAL if self.admin else (self.scope or self.name)


class Caller(BaseModel):
    """The authenticated caller of one request."""

    name: str
    scope: str
    edit: bool
    admin: bool

    def may_touch(self, edit_scope: str) -> bool:
        """Whether this caller may undo an edit of ``edit_scope``: its own scope's, or any as admin."""
        return self.admin or edit_scope == self.scope


class Keys:
    """The API keys, looked up by the secret's hash in constant time."""

    def __init__(self, specs: list[KeySpec]) -> None:
        if not specs:
            raise ValueError("a keys file needs at least one [[key]]")
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError("key names must be unique")
        self.specs = specs

    @classmethod
    def load(cls, path: str | Path) -> Keys:
        """The keys of a keys.toml; ValueError with one line that names the file and what is wrong."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            keys = data.get("key", [])
            if not isinstance(keys, list):
                raise ValueError("`key` must be a list of tables: write each key as [[key]]")
            return cls([KeySpec.model_validate(k) for k in keys])
        except OSError as e:
            raise ValueError(f"cannot read the keys file {path}: {e.strerror or e}") from e
        except UnicodeDecodeError as e:
            raise ValueError(f"the keys file {path} is not UTF-8 text") from e
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise ValueError(f"the keys file {path}: {where}: {err['msg']}") from e
        except ValueError as e:  # tomllib.TOMLDecodeError, or an empty or inconsistent list
            raise ValueError(f"the keys file {path}: {e}") from e

    @classmethod
    def local(cls) -> tuple[Keys, str]:
        """One admin key for the operator of a loopback server, and its secret."""
        secret = "sk-local-" + secrets.token_urlsafe(24)
        return cls([KeySpec(name="local", key=secret, admin=True)]), secret

    def find(self, secret: str) -> KeySpec | None:
        digest = hashlib.sha256(secret.encode()).hexdigest()
        hit = None
        for s in self.specs:  # compare all, so the time does not tell which key matched
            if hmac.compare_digest(s.digest, digest):
                hit = s
        return hit

    def caller(self, authorization: str | None, user: str | None = None) -> Caller | str:
        """The caller, or why not: "missing", "invalid", or "user" (a ``user`` field the key may not set)."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return "missing"
        spec = self.find(authorization[7:].strip())
        if spec is None:
            return "invalid"
        scope = spec.home
        if user:
            if not spec.users:
                return "user"
            if not USER_RE.match(user):
                return "user"
            scope = f"{scope}/{user}" if scope != GLOBAL else f"user/{user}"
        return Caller(
            name=spec.name if not user else f"{spec.name}/{user}",
            scope=scope,
            edit=spec.edit,
            admin=spec.admin and not user,
        )


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, keys_file: str | Path | None) -> None:
    """Refuse to listen on a non-loopback address without a keys file."""
    if not is_loopback(host) and keys_file is None:
        raise ValueError(
            f"refusing to serve on {host} without --keys keys.toml: anyone who can reach it could "
            "edit the model; bind 127.0.0.1 or give API keys"
        )


def check_port(host: str, port: int) -> None:
    """Refuse a port that cannot be listened on (in use, or privileged) before the model is loaded, with
    one clear line rather than uvicorn's error after the load."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            s.bind((host.strip("[]"), port))
    except OSError as e:
        why = "is already in use" if e.errno == errno.EADDRINUSE else f"cannot be used: {e.strerror or e}"
        raise ValueError(f"port {port} on {host} {why}: pick another with --port") from e


def host_name(header: str) -> str:
    """The host part of a Host header ("[::1]:8000" -> "::1", "example.org:80" -> "example.org")."""
    h = header.strip().lower()
    if h.startswith("["):
        return h[1 : h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def allowed_hosts(bind: str, extra: list[str] | tuple[str, ...] = ()) -> set[str]:
    """Host names the server answers to: loopback names (a DNS-rebinding page has its own name) plus the
    bound address and any named with --allow-host."""
    out = set(LOOPBACK_NAMES) | {h.lower() for h in extra}
    if bind not in ("0.0.0.0", "::"):
        out.add(bind.lower())
    return out


def origin_ok(origin: str | None, hosts: set[str]) -> bool:
    """A browser's Origin header must name an allowed host (a cross-site page's does not); clients that
    send none (curl, SDKs) pass."""
    if origin is None:
        return True
    m = re.match(r"^https?://(\[[^\]]+\]|[^/:]+)(:\d+)?/?$", origin.strip().lower())
    return bool(m) and m.group(1).strip("[]") in hosts
