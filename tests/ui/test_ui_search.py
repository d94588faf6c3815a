"""The queue's filter in memory (`QueueSearch`) means what `pending --search` means, while
it narrows earlier results, reuses texts, and follows in-place changes of the queue."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from ui_support import SEED_NOW, build_app, settle

from console.core.models import Convention, PauseKind, PendingFilter, PendingThread
from console.core.store.base import CheckpointStore
from console.core.store.heads import matches
from console.settings import Settings
from console.ui.filter_query import QueueSearch, narrows, parse_filter
from console.ui.screens.main import MainScreen

GRAPHS = ("email", "Inbox", "agent")
WORDS = ("Approve", "wire transfer", "STRASSE", "straße", "refund", "ORD-1:2", "[bold]x")


def _thread(index: int) -> PendingThread:
    return PendingThread(
        thread_id=f"{'RUN' if index % 5 == 0 else 'run'}-{index:05d}",
        checkpoint_ns="",
        checkpoint_id=f"ckpt-{index}",
        graph=GRAPHS[index % 3],
        nodes=("review",) if index % 2 else ("review", "send_email"),
        kind=PauseKind.INTERRUPT,
        convention=Convention.RAW,
        interrupts=(),
        paused_at=SEED_NOW - timedelta(hours=3) + timedelta(seconds=61 * index),
        summary=f"{WORDS[index % len(WORDS)]} #{index}",
    )


def _expected(threads: list[PendingThread], text: str) -> list[PendingThread]:
    flt = parse_filter(text).filter
    return [t for t in threads if matches(t, flt, SEED_NOW)]


TYPING = [
    "a", "ap", "app", "appr", "app", "ap", "a", "",  # grow then backspace
    "graph:email", "graph:email r", "graph:email ru", "graph:Inbox ru",
    "node:send_email", "node:send_email strasse", "straße", "STRASSE", "ss",
    "older:1h", "older:1h run-0", "run-0001", "ORD-1:2", "[bold]", "#1", "#12",
    # across the thread id and the rest of the text, and case-folded ids
    "00001 inbox", "00001 inbox review", "0 email", "5 email", "run-00005 e",
]


def test_the_queue_filter_agrees_with_the_core_as_you_type() -> None:
    threads = [_thread(i) for i in range(300)]
    search = QueueSearch()
    for text in TYPING:
        flt = parse_filter(text).filter
        assert search.select(threads, flt, SEED_NOW) == _expected(threads, text), text


def test_random_typing_and_backspacing_agree_with_the_core() -> None:
    rng = random.Random(7)
    threads = [_thread(i) for i in range(200)]
    search = QueueSearch()
    alphabet = "aeiouprsnt0123 #-ml"
    text = ""
    for _ in range(400):
        if text and rng.random() < 0.4:
            text = text[:-1]
        else:
            text += rng.choice(alphabet)
        flt = parse_filter(text).filter
        assert search.select(threads, flt, SEED_NOW) == _expected(threads, text), repr(text)


def test_in_place_changes_and_new_lists_keep_the_texts_right() -> None:
    threads = [_thread(i) for i in range(50)]
    search = QueueSearch()
    flt = PendingFilter(search="refund")
    assert search.select(threads, flt, SEED_NOW) == _expected(threads, "refund")
    # A live refresh: one thread leaves, another arrives (in place, reported).
    del threads[4]
    search.removed(threads, 4)
    newcomer = _thread(1000)
    threads.append(newcomer)
    search.inserted(threads, len(threads) - 1)
    assert search.select(threads, flt, SEED_NOW) == _expected(threads, "refund")
    assert newcomer in search.select(threads, PendingFilter(search="#1000"), SEED_NOW)
    # A decision takes threads out by building a new list: re-indexed, still right.
    fewer = [t for t in threads if "refund" not in t.summary]
    assert search.select(fewer, flt, SEED_NOW) == []
    # A change the index was not told about (another list): it does not trust itself.
    search.inserted(threads, 0)
    assert search.select(fewer, PendingFilter(search="run"), SEED_NOW) == fewer


def test_indexing_in_steps_is_the_same_as_at_once() -> None:
    threads = [_thread(i) for i in range(1000)]
    search = QueueSearch()
    steps = 0
    while not search.index_step(threads, 64):
        steps += 1
    assert steps == 1000 // 64
    assert search.ready(threads)
    assert search.select(threads, PendingFilter(search="#99"), SEED_NOW) == _expected(
        threads, "#99")


@pytest.mark.parametrize(
    ("wider", "narrower", "expected"),
    [
        (PendingFilter(search="ap"), PendingFilter(search="app"), True),
        (PendingFilter(search="pp"), PendingFilter(search="app"), True),
        (PendingFilter(search="app"), PendingFilter(search="ap"), False),
        (PendingFilter(graph="email"), PendingFilter(graph="email", search="x"), True),
        (PendingFilter(graph="email"), PendingFilter(graph="inbox"), False),
        (PendingFilter(), PendingFilter(node="n", search="x"), True),
        (PendingFilter(older_than_seconds=60), PendingFilter(older_than_seconds=60), False),
        (PendingFilter(search="ß"), PendingFilter(search="STRASSE"), True),  # casefolded
    ],
)
def test_which_results_may_be_narrowed(
    wider: PendingFilter, narrower: PendingFilter, expected: bool
) -> None:
    assert narrows(wider, narrower) is expected


@pytest.mark.parametrize("text", ["tutorial", "Approve", "send_email", "-000", "graph:inbox x"])
async def test_the_console_shows_what_pending_search_lists(
    store: CheckpointStore, settings: Settings, text: str
) -> None:
    """One meaning of the filter: the UI's rows are the store's own `pending(filter)`."""
    query = parse_filter(text)
    listed = await store.pending(query.filter, now=SEED_NOW)
    app = build_app(store, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await pilot.press("slash", *text)
        await settle(pilot)
        assert [t.thread_id for t in screen.table.rows] == [t.thread_id for t in listed]


def test_a_phrase_across_the_thread_id_and_the_graph_is_found() -> None:
    threads = [_thread(i) for i in range(20)]
    search = QueueSearch()
    assert search.select(threads, PendingFilter(search="00001 INBOX"), SEED_NOW) == [threads[1]]
    # an upper-case id is found by its folded form, not kept twice when already folded
    assert search.select(threads, PendingFilter(search="run-00005"), SEED_NOW) == [threads[5]]
    assert search._texts.ids[1] is threads[1].thread_id
