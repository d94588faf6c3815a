"""Two consoles press `y` on the same pause together (issue 16): the loser's claim is
refused while the winner's resume is still running. Its conflict dialog must say who is
applying the pause and that it is in flight, offer no re-apply (a second conflict), and
follow the ledger until the decision settles (on Postgres it stayed `in_flight`)."""

from __future__ import annotations

from ui_support import build_app, main_screen, screen_text, seed_threads, settle, until

from console.core.ledger.apply import Decider, current_origin
from console.core.ledger.db import install_ledger
from console.core.ledger.decisions import DecisionInput
from console.core.ledger.rows import ClaimRequest, DecisionStatus, DecisionType
from console.settings import Settings
from console.ui.modals.confirm import ConfirmScreen
from console.ui.modals.conflict import ConflictScreen
from console.ui.screens.main import MainScreen
from tests import graphs
from tests.ui.ui_support import open_ui_store

GRAPHS = {"raw": graphs.ALL["raw"]}


def _body(app: object) -> str:
    body = app.screen.query_one("#conflict-body").render()  # type: ignore[attr-defined]
    return str(getattr(body, "plain", body))


async def test_the_loser_of_a_race_is_told_who_is_applying_and_follows_it(
    db_url: str,
) -> None:
    await seed_threads(db_url, GRAPHS, [("raw", "r-1", {"topic": "r-1"}, {})])
    store = await open_ui_store(db_url, GRAPHS)
    try:
        await install_ledger(store)
        app = build_app(store, Settings(reviewer="tester", mouse=False))
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            assert screen.table.select_thread("r-1")
            await pilot.press("enter")
            await until(pilot, lambda: screen.detail.checkpoint_id is not None,
                        what="the detail")
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                        what="the approve preview")
            # alice's console won the claim a moment before; its resume is still running
            alice = Decider(store, current_origin("alice"))
            choice = DecisionInput(DecisionType.APPROVE)
            pause, plan = await alice.plan("r-1", choice)
            claim = await alice.ledger.claim(ClaimRequest(
                "r-1", "", pause.checkpoint_id, ",".join(sorted(pause.interrupt_ids)),
                DecisionType.APPROVE, alice.origin, None, None, None, None))
            assert claim.row is not None and claim.row.status == DecisionStatus.IN_FLIGHT
            await pilot.press("y")  # ours: refused by the one-claim rule
            await until(pilot, lambda: isinstance(app.screen, ConflictScreen),
                        what="the conflict dialog")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, ConflictScreen)
            text = _body(app)
            assert "waiting again" not in text
            assert "approve by alice, being applied" in text and "(in_flight)" in text
            shown = screen_text(app)
            assert "re-apply your approve" not in shown
            assert "nothing to re-apply while alice's approve is in_flight" in shown
            await pilot.press("a")  # refused: it would only be a second conflict
            await pilot.pause()
            assert app.screen is dialog
            # alice's resume finishes: the dialog follows the ledger without a key
            graph = store.registry.get("raw")
            assert graph is not None
            rereads = dialog.rereads
            await alice.apply_claimed(claim.row, graph, plan, pause)
            await until(pilot, lambda: "alice approve applied ->" in _body(app),
                        what="the dialog to see the decision settle")
            text = _body(app)
            assert "in_flight" not in text and "being applied" not in text
            assert "approve by alice, applied" in text  # the top sentence follows too
            assert "not waiting for a human" in text
            assert dialog.rereads > rereads
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, MainScreen), what="closed")
        rows = await alice.ledger.rows(thread_id="r-1")
        assert [(r.reviewer, r.status) for r in rows] == [("alice", "applied")]
    finally:
        await store.close()
