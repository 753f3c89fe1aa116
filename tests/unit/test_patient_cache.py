"""The patient's cache takes typed keys only (issue 24): an ad-hoc string or tuple key is refused."""

from __future__ import annotations

import pytest

from repair.edit.cache import GuardKey, PatientCache, RefusalVectorKey, StatsKey


def test_typed_keys_are_values():
    cache = PatientCache()
    cache[GuardKey(("e1",))] = ["q"]
    cache[RefusalVectorKey(12, "s300")] = 1.0
    assert cache[GuardKey(("e1",))] == ["q"] and GuardKey(("e1",)) in cache
    assert GuardKey(()) not in cache and RefusalVectorKey(13, "s300") not in cache
    assert StatsKey((("a", "1"),)) != GuardKey(("a", "1"))


@pytest.mark.parametrize("key", ["load_s", ("guard", ()), "stamp2-u-12-s300"])
def test_ad_hoc_keys_are_refused(key):
    with pytest.raises(TypeError, match="typed"):
        PatientCache()[key] = 1
