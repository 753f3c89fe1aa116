"""Keys: the operator's HMAC key (audit) and one AES-256-GCM key per edit, each in its own file, outside
the database. Deleting an edit's key file makes everything sealed under it unreadable (crypto-shredding);
the sealed rows are then deleted too."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from repair.edit.ledger.files import LedgerError, atomic_write_bytes, fsync_dir
from repair.models.registry import repair_home

NONCE = 12


def operator_key() -> bytes:
    """``$REPAIR_OPERATOR_KEY`` (hex), else ``$REPAIR_HOME/operator.key`` (made on first use, mode 0600)."""
    env = os.environ.get("REPAIR_OPERATOR_KEY")
    if env:
        try:
            return bytes.fromhex(env)
        except ValueError:
            raise LedgerError(
                "REPAIR_OPERATOR_KEY must be hex; make one with: openssl rand -hex 32"
            ) from None
    path = repair_home() / "operator.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
                f.flush()
                os.fsync(f.fileno())
        except FileExistsError:  # another process made it first
            pass
    return path.read_bytes()


def normalise(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def text_hmac(text: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 of the text (whitespace and case normalised) under the operator key: an audit can tell
    whether a given text was forgotten without the ledger keeping the text."""
    return hmac.new(key or operator_key(), normalise(text).encode(), hashlib.sha256).hexdigest()


class EditKeys:
    """One key file per edit in ``folder`` (mode 0600)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, edit_id: str) -> Path:
        return self.folder / f"{edit_id}.key"

    def create(self, edit_id: str) -> bytes:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = AESGCM.generate_key(bit_length=256)
        atomic_write_bytes(self.path(edit_id), key, mode=0o600)
        return key

    def get(self, edit_id: str) -> bytes | None:
        try:
            return self.path(edit_id).read_bytes()
        except FileNotFoundError:
            return None

    def ids(self) -> set[str]:
        return {p.stem for p in self.folder.glob("*.key")} if self.folder.exists() else set()

    def shred(self, edit_id: str) -> None:
        """Overwrite the key with zeros, fsync, unlink (on a copy-on-write or flash disk the overwrite is
        best effort; the unlink is what counts)."""
        p = self.path(edit_id)
        try:
            size = p.stat().st_size
        except FileNotFoundError:
            return
        with open(p, "r+b") as f:
            f.write(b"\0" * size)
            f.flush()
            os.fsync(f.fileno())
        p.unlink()
        fsync_dir(self.folder)


def seal(key: bytes, data: bytes, aad: str) -> bytes:
    nonce = secrets.token_bytes(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, data, aad.encode())


def unseal(key: bytes, blob: bytes, aad: str) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:NONCE], blob[NONCE:], aad.encode())
    except InvalidTag:
        raise LedgerError(f"sealed data of {aad} does not open with its key (corrupt or tampered)") from None
