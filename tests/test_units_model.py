"""Unit versions and addresses: semantic versions as semver.org defines them (the ``semver`` package)."""

from __future__ import annotations

import pytest

from worker.units.model import Address, Version


def test_versions_order_by_semver_precedence():
    texts = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
             "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"]  # semver.org 11.4's own example, and more
    versions = [Version.parse(t) for t in texts]
    assert sorted(reversed(versions)) == versions
    assert [str(v) for v in versions] == texts
    assert Version.parse("1.2.3+build.7") == Version(1, 2, 3)  # build metadata has no precedence


@pytest.mark.parametrize("text", ["1.0", "01.0.0", "1.0.0-", "1.0.0-01", "v1.0.0", "", None])
def test_a_bad_version_is_refused_naming_it(text):
    with pytest.raises(ValueError, match="not a semantic version"):
        Version.parse(text)


def test_an_address_needs_a_semantic_version():
    assert Address.parse("strat://dev/task/lint@1.0.0-rc.1").version == "1.0.0-rc.1"
    with pytest.raises(ValueError, match="not a unit address"):
        Address.parse("strat://dev/task/lint@1.0.0-01")


def test_the_collector_is_paused_while_loading_and_restored_as_it_was(tmp_path):
    """Issue 12: loading keeps everything it builds, so the cyclic collector only rescans it; it is off inside
    load() and run_ci's building, and comes back exactly as it was (also after an error, also when nested)."""
    import gc

    from worker.units import load

    assert gc.isenabled()
    with load.collector_paused():
        assert not gc.isenabled()
        with load.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    try:
        load.load([tmp_path / "missing"])
    except FileNotFoundError:
        pass
    assert gc.isenabled()
    gc.disable()
    try:
        load.load([tmp_path])
        assert not gc.isenabled()
    finally:
        gc.enable()
