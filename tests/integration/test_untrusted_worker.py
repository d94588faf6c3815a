"""Worker mode over planted rows: recording and applying a decision runs nothing they name.

Real `raw` pauses; then one thread's interrupt write and another thread's stored state
(the `notes` channel: a Postgres blob row, a SQLite checkpoint value) are replaced with
msgpack Exts naming `os.system`, `subprocess.run`, `builtins.eval`, an
`importlib.import_module` chain and pydantic models, whose modules are importable here
(planting and the proof that LangGraph's default decoder runs them:
tests/integration/test_untrusted_serde.py). The console records an approval of each in
worker mode; the worker, with the real graph loaded, claims, re-checks the head and
resumes it. No marker file may appear, and every decision ends applied or failed with
one sentence.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from console.core.dburl import parse_db_url
from console.core.graphs import GraphRegistry
from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.db import install_ledger
from console.core.ledger.decisions import DecisionInput
from console.core.ledger.rows import DecisionType
from console.core.store import open_store
from console.core.worker import apply_pending_decisions
from tests import graphs
from tests.integration.test_untrusted_serde import PLANTED_THREADS, seed_planted

THREADS = PLANTED_THREADS


async def test_a_worker_applies_decisions_on_planted_rows_without_running_them(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    markers = await seed_planted(db_url, tmp_path, monkeypatch)

    # The console side: no graphs loaded, decisions only recorded.
    console = await open_store(parse_db_url(db_url), GraphRegistry(), grace_seconds=0)
    try:
        await install_ledger(console)
        decider = Decider(console, current_origin("carol"), worker_mode=True)
        for thread_id in THREADS:
            outcome = await decider.decide(thread_id, DecisionInput(DecisionType.APPROVE))
            assert outcome.status == "queued", (thread_id, outcome.message)
        assert sorted(p.name for p in markers.iterdir()) == []

        results = await apply_pending_decisions({"raw": graphs.ALL["raw"]}, db_url)
        assert sorted(p.name for p in markers.iterdir()) == []
        by_thread = {r.thread_id: r for r in results}
        assert set(by_thread) == set(THREADS)
        for result in results:
            assert result.status in ("applied", "failed"), result
            assert "Traceback" not in result.outcome and "\n" not in result.outcome, result
        # The planted values are data to the worker: the gates resume as on a clean row.
        assert {r.status for r in results} == {"applied"}, results
        latest = await decider.ledger.latest_by_thread(list(THREADS))
        assert {t: r.status for t, r in latest.items()} == dict.fromkeys(THREADS, "applied")

        # What the resume wrote is read back, still without running anything.
        for thread_id in THREADS:
            graph = graphs.ALL["raw"].copy(update={"checkpointer": console.saver})
            state = await graph.aget_state({"configurable": {"thread_id": thread_id}})
            assert state.values["effects"] == ["acted"], thread_id
        notes = (await graphs.ALL["raw"].copy(update={"checkpointer": console.saver})
                 .aget_state({"configurable": {"thread_id": "evil-state"}})).values["notes"]
        assert notes[1]["os_system"]["__type__"] == "os.system"
    finally:
        await console.close()
    assert sorted(p.name for p in markers.iterdir()) == []
