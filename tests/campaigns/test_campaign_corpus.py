"""The broken-campaign corpus: each file states the exact problems it must produce.

Every ``campaign_corpus/*.toml`` starts with ``# expect: LINE: path: message`` lines (the
line counted in the file as it is, comment lines included); the test checks that
``dispatcher campaign validate`` reports exactly those, in that order, and nothing else.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.base import ValidationContext
from dispatcher import registry
from dispatcher.campaigns.model import load_campaign

CORPUS = Path(__file__).with_name("campaign_corpus")
KNOWN_LISTS = frozenset({"residents", "workers"})


def _channel(name: str):  # type: ignore[no-untyped-def]
    return registry.build_channel(name, {}) if name in registry.installed() else None


def expectations(path: Path) -> list[str]:
    prefix = "# expect: "
    return [line[len(prefix):] for line in path.read_text(encoding="utf-8").splitlines()
            if line.startswith(prefix)]


def check(path: Path) -> list[str]:
    campaign, issues = load_campaign(path, default_timezone="Asia/Shanghai",
                                     channel_for=_channel,
                                     context=ValidationContext(known_lists=KNOWN_LISTS))
    assert (campaign is None) == bool(issues)
    return [f"{i.line}: {i.path}: {i.message}" for i in issues]


def test_corpus_is_large_enough() -> None:
    assert len(list(CORPUS.glob("*.toml"))) >= 25


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.toml")), ids=lambda p: p.stem)
def test_broken_campaign_reports_exact_problems(path: Path) -> None:
    expected = expectations(path)
    assert expected, f"{path.name} has no '# expect:' line"
    assert check(path) == expected
