"""The fuzz suite: a seeded, bounded corpus of hostile requests (benchmarks/fuzz.py) sent to
every route of a real server on loopback, without a token. It passes with no answer of 500 or
above apart from documented 503s, no crash, the server healthy afterwards, and the record
unchanged. ``python -m benchmarks.fuzz`` sends 10,000 on demand; this sends a few hundred."""

from __future__ import annotations

from benchmarks.fuzz import fuzz
from conftest import FreshDataDir

REQUESTS = 400


def test_hostile_requests_to_every_route_crash_nothing_and_change_nothing(tmp_path, fresh_data_dir: FreshDataDir):
    run = fuzz(fresh_data_dir(tmp_path / "db"), REQUESTS, seed=17)
    summary = run.summary()
    assert summary["requests"] == REQUESTS, summary
    assert run.passed, summary
