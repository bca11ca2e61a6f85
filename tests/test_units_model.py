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
