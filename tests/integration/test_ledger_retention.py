"""The retention period purges as ``repair edits purge`` does (issue 22, item 2): keys shredded, sealed rows
and turns deleted with ``secure_delete`` on, the WAL checkpointed to zero bytes, and the migration backup
scrubbed; whether it is applied by ``repair edits retention``, on open, or by a long-running process."""

from __future__ import annotations

import pytest
from ledger_child import make_edit, tiny_llama, write_v1
from test_ledger_privacy import leaks
from typer.testing import CliRunner

from repair.cli import app
from repair.edit.ledger import Ledger
from repair.models.arch import arch_for


def _open(root) -> Ledger:
    model = tiny_llama()
    led = Ledger(model, arch_for(model), "fp", root)
    led.load()
    return led


def _wal_is_empty(root) -> bool:
    wal = root / "ledger.db-wal"
    return not wal.exists() or wal.stat().st_size == 0


@pytest.mark.parametrize("how", ["command", "open", "running"])
def test_retention_leaves_nothing_in_the_database_the_wal_or_the_backup(tmp_path, repair_home, how):
    root = tmp_path / "ledger"
    write_v1(root, ["e1", "e2"])  # a ledger from before the database: migrated, with a backup
    led = _open(root)
    assert int(led.store.db.execute("PRAGMA secure_delete").fetchone()[0]) == 1
    assert leaks(root / "backup-v1")  # the old files, until a purge
    if how == "command":
        r = CliRunner().invoke(app, ["edits", "retention", "0", "--ledger", str(root)])
        assert r.exit_code == 0, r.output
    else:
        with led.store.write() as conn:  # `repair edits retention 0` from another process, say
            led.store.set_info(conn, "retention_s", "0")
        if how == "open":
            _open(root)
        else:
            from repair.edit.ledger import core

            led._expired_at -= core.EXPIRE_EVERY_S + 1
            led.sync()
    assert [m.private for m in led.list()] == ["purged", "purged"]
    assert [e.id for e in led.active] == ["e1", "e2"]  # the edits stay applied
    assert (
        leaks(tmp_path, repair_home) == []
    )  # ledger.db, its -wal and -shm, keys/, backup-v1/ and $REPAIR_HOME
    assert _wal_is_empty(root) and not list((root / "keys").glob("*.key"))
    assert not (root / "backup-v1").exists() or not list((root / "backup-v1").iterdir())
    led.commit(make_edit("e3", 3))  # a new edit under retention 0 is purged on the next open
    _open(root)
    assert [m.private for m in led.list()] == ["purged", "purged", "purged"] and leaks(
        tmp_path, repair_home
    ) == []
