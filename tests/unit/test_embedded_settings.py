"""The embedded server's shared_buffers: a quarter of the machine's memory, from 1 to 8 GB."""

from __future__ import annotations

import pytest

from recodb import embedded


@pytest.mark.parametrize(
    ("memory_gb", "expected"),
    [(2, "1024MB"), (24, "6144MB"), (256, "8192MB")],
)
def test_shared_buffers_follow_the_memory(monkeypatch, memory_gb: int, expected: str) -> None:
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": memory_gb * 2**30 // 4096}
    monkeypatch.setattr(embedded.os, "sysconf", lambda name: pages[name])
    assert embedded._shared_buffers() == expected


def test_without_sysconf_it_is_one_gigabyte(monkeypatch) -> None:
    def missing(name: str) -> int:
        raise ValueError(name)

    monkeypatch.setattr(embedded.os, "sysconf", missing)
    assert embedded._shared_buffers() == "1GB"
