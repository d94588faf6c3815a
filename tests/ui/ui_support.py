"""Helpers shared by the UI tests: the frozen clock, the app factory, screen text.

Screen text is read from `App.export_screenshot` (public, and exactly what a terminal
would show), so assertions see what a reviewer sees: markup literal, escapes gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from datetime import UTC, datetime
from typing import Any

from textual.app import App
from textual.worker import WorkerCancelled, WorkerFailed

from console.core.graphs import GraphInfo, GraphRegistry
from console.core.store.base import CheckpointStore
from console.demo import graphs as demo_graphs
from console.settings import Settings
from console.ui.app import ConsoleApp, make_app

# The instant the demo was seeded "at", and the frozen clock every test app runs on.
SEED_NOW = datetime(2025, 1, 15, 12, 0, 0, tzinfo=UTC)
SEED_THREADS = 12
# The graphs the snapshots were drawn with: the demo's later graphs (Send branches, the
# Functional API, per-call tools) are left out so adding demo graphs redraws no snapshot.
SEED_GRAPHS = ("email", "tutorial", "hitl_agent", "hitl_agent_js", "inbox", "schema",
               "subgraph", "parallel", "after")
SLA_SECONDS = 3600.0


def frozen_clock() -> datetime:
    return SEED_NOW


def demo_registry() -> GraphRegistry:
    """The demo graphs, as `--graph NAME=console.demo.graphs:NAME` would load them."""
    return GraphRegistry(
        GraphInfo.of(name, getattr(demo_graphs, name)) for name in demo_graphs.DEMO_GRAPHS
    )


def build_app(store: CheckpointStore, settings: Settings, **options: Any) -> ConsoleApp:
    """The app as the CLI builds it, with time frozen and no timers firing mid-test."""
    options.setdefault("clock", frozen_clock)
    options.setdefault("detail_delay", 0)
    options.setdefault("tick_interval", 0)
    options.setdefault("poll_interval", 0)  # live refresh only where a test turns it on
    options.setdefault("presence_interval", 0)  # presence likewise
    app = make_app(store, settings, **options)
    app.theme = "textual-dark"  # the user's TEXTUAL_THEME must not change snapshots
    app.animation_level = "none"  # TEXTUAL_ANIMATIONS likewise
    return app


_TEXT = re.compile(
    r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
    r'clip-path="url\(#[\w-]+-line-(\d+)\)">([^<]*)</text>'
)
CELL_WIDTH = 12.2  # pixels per cell in Textual's SVG export


def svg_lines(svg: str, width: int, height: int) -> list[str]:
    """Rows of text of a Textual SVG screenshot."""
    rows = [[" "] * width for _ in range(height)]
    for x, line, content in _TEXT.findall(svg):
        row = int(line)
        if row >= height:
            continue
        column = round(float(x) / CELL_WIDTH)
        for offset, char in enumerate(html.unescape(content).replace("\xa0", " ")):
            if column + offset < width:
                rows[row][column + offset] = char
    return ["".join(r).rstrip() for r in rows]


def screen_lines(app: App[Any]) -> list[str]:
    """What the terminal shows right now, one string per row."""
    width, height = app.size
    return svg_lines(app.export_screenshot(), width, height)


def screen_text(app: App[Any]) -> str:
    return "\n".join(screen_lines(app))


LOOPS = ("live", "conflict follow", "presence listen")  # workers that run until told


async def settle(pilot: Any, rounds: int = 3) -> None:
    """Wait for workers *and* the messages they post (a load starts a detail fetch).

    The live-refresh loop never completes by design, nor does a conflict dialog's look
    at a decision in flight until it settles, so they are not waited for (and never
    handed to `wait_for_complete`, whose timeout would cancel them).
    """
    for _ in range(rounds):
        workers = [w for w in pilot.app.workers if w.group not in LOOPS]
        if workers:
            # A failed worker is the app's to report; tests assert on what the reviewer sees.
            with contextlib.suppress(WorkerFailed, WorkerCancelled):
                await asyncio.wait_for(pilot.app.workers.wait_for_complete(workers),
                                       timeout=20)
        await pilot.pause()


def main_screen(app: App[Any]) -> Any:
    """The main screen (under any dialogs)."""
    from console.ui.screens.main import MainScreen

    screen = app.screen_stack[0]
    assert isinstance(screen, MainScreen)
    return screen


async def until(pilot: Any, predicate: Any, timeout: float = 15.0, what: str = "") -> None:
    """Pause until `predicate()` is true (workers and messages keep running meanwhile)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.05)


async def select_graph(pilot: Any, graph: str, index: int = 0) -> Any:
    """Put the cursor on the `index`-th pending thread of `graph`; returns that thread."""
    screen = main_screen(pilot.app)
    threads = [t for t in screen.all_threads if t.graph == graph]
    thread = threads[index]
    assert screen.table.select_thread(thread.thread_id)
    await settle(pilot)
    await until(pilot, lambda: screen.detail.checkpoint_id == thread.checkpoint_id,
                what=f"the detail of {thread.thread_id}")
    return thread


async def previewed(pilot: Any) -> None:
    """Wait until the reason box shows the Command its `enter` sends."""
    from console.ui.modals.prompt import PromptScreen

    await until(pilot, lambda: isinstance(pilot.app.screen, PromptScreen)
                and pilot.app.screen.has_preview, what="the Command in the reason box")


async def decided(pilot: Any) -> None:
    """Wait until no decision is running and its messages are handled."""
    screen = main_screen(pilot.app)
    await until(pilot, lambda: screen.busy is None and not [
        w for w in pilot.app.workers if w.group == "decision" and w.is_running],
        what="the decision to finish")
    await settle(pilot)


# --- small real graphs seeded into any database (policy and planted-secret tests) ------


def graph_registry(graphs: dict[str, Any]) -> GraphRegistry:
    """A registry of compiled graphs by name (as `--graph NAME=module:attr` would load)."""
    return GraphRegistry(GraphInfo.of(name, graph) for name, graph in graphs.items())


async def seed_threads(
    url: str,
    graphs: dict[str, Any],
    threads: list[tuple[str, str, dict[str, Any], dict[str, Any]]],
) -> None:
    """Run each (graph name, thread id, input, metadata) on a real checkpointer at `url`
    until it pauses: real LangGraph checkpoints, as the graph's own process writes them."""
    from console.core.dburl import parse_db_url
    from console.core.store import open_store

    store = await open_store(parse_db_url(url), graph_registry(graphs), grace_seconds=0,
                             create=True)
    try:
        for name, thread_id, state, metadata in threads:
            graph = graphs[name].copy(update={"checkpointer": store.saver})
            config: Any = {"configurable": {"thread_id": thread_id},
                           "metadata": {"graph_id": name, **metadata}}
            await graph.ainvoke(state, config)
    finally:
        await store.close()


async def open_ui_store(url: str, graphs: dict[str, Any]) -> CheckpointStore:
    from console.core.dburl import parse_db_url
    from console.core.store import open_store

    return await open_store(parse_db_url(url), graph_registry(graphs), grace_seconds=0)


def notifications(app: App[Any]) -> list[str]:
    """Every notification the app has shown (title and message), oldest first."""
    return [f"{n.title}: {n.message}" for n in app._notifications]
