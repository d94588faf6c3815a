"""The console's answer for every thread equals LangGraph's own, on generated graphs.

`shapes.py` draws graph shapes from a seed (StateGraphs with static, conditional,
`Send` and `Command(goto=...)` edges, parallel branches, subgraphs up to 3 deep as nodes
or awaited inside nodes, breakpoints on plain, `Send` target and subgraph nodes;
Functional API entrypoints and tasks; agents whose tools ask, through `create_agent`, a
prebuilt `ToolNode`, or per-call HITL middleware).
`runner.py` runs threads of them on the real savers to random points (paused, partly
answered by interrupt id, resumed, finished, failed; durability sync/async/exit) and
compares, for every thread, the console's answer (`store.pending_thread(T)` after every
invocation; at the end also the thread's row in `store.pending()` and the pause of its
review bundle, `store.bundle(T).pending`, what `show` prints) with what `aget_state()`
says, in every setting:
SQLite and Postgres; without `setup`, with `setup` installed before the writes, and
with `setup` installed after them; with the graphs registered and with an empty
registry. Then it decides every shape through the console (inline, approve or reject
until the run ends): approve runs each gated action exactly once (as often as plain
LangGraph runs it with the same answers: nested subgraph re-execution can run one
twice without any console), reject never runs it; the side-effect table says what ran.

What the console must answer, from `S = await graph.aget_state({"thread_id": T})` (the
newest root checkpoint, with the writes of tasks that already finished applied):

1. `S.interrupts` not empty: listed, kind `interrupt`; the interrupt ids and values are
   exactly `S.interrupts`'; nodes = the names of the tasks in `S.tasks` that hold them
   (a subgraph's question is held by the root task running the subgraph, a Functional
   API task's by the entrypoint awaiting it).
2. Else `S.next` empty: not listed (finished, or never started).
3. Else, with the graph registered in the store's `GraphRegistry` (found by the run's
   `graph_id` metadata):
   - kind `before`, nodes = the names in `S.next` that the graph's `interrupt_before`
     names (every name for "*"), if there are any;
   - else kind `after`, nodes = the graph's `interrupt_after` nodes among the tasks that
     ran in the step that produced the head, i.e. `aget_state(S.parent_config).next`
     when that parent is the step just before (`step - 1`) (with durability "exit" no
     such parent is saved: see the run's own fact below);
   - else kind `before`, nodes = the next tasks that run a subgraph stopped at a
     breakpoint of its own: read with `aget_state(T, subgraphs=True)`, the task's
     subgraph state (at any depth) meets these same two rules with the subgraph's own
     `interrupt_before/after` ("paused inside" the node; a subgraph stopped after its
     last node counts, though its own `next` is empty: its parent's task is unfinished),
     and none of its own unfinished tasks failed (an `error`, a cancellation included)
     unless that task's subgraph is itself stopped. The error of a task whose subgraph
     is stopped is older than the stop: LangGraph keeps a task's error in a fixed write
     slot, so a run that failed leaves it while a later run stops inside the subgraph;
   - else not listed (a run between steps, or one that failed: the graph says no human
     is needed).
4. Else (empty registry; grace period 0): listed, kind `stalled`, nodes = the names in
   `S.next` (without the graph a breakpoint and a crashed run look the same).

In every listed case `next_nodes` = the names in `S.next`. Names are compared as sorted
sets (a `Send` fan-out repeats a name in `S.next`), interrupt values by `repr`.
One more fact comes from the run itself: whether LangGraph ended the thread's last
invocation at a static breakpoint (the stream's last update is `{"__interrupt__": ()}`).
When it did and `S.next` is not empty, the store with the graph must list the thread
("breakpoint stop"), even where rule 3 cannot tell: durability "exit" saves no
checkpoint of the step before, inside a subgraph as at the root, so `interrupt_after`
leaves no trace `aget_state` shows. There, kind `before` or `after` is accepted whatever
the nodes. One such stop cannot be listed by anyone: after `Send` targets in
`interrupt_after` with durability "exit", nothing stored records that they ran (the
comment before `runner._compare_lists` proves it from LangGraph's source); the runner
knows it from the stream's `tasks` events, and exempts exactly that stop.

The fixed seeds below cover at least 300 threads a backend; `benchmarks/differential.py`
runs the same generator at any scale and prints every mismatch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from console.core.dburl import DatabaseLocation
from tests.differential.runner import Batch, Report, run_batch, schema_url

THREADS = 300
SEEDS = {"sqlite": 1301, "postgres": 1302}
SHOWN = 12  # reproducers printed on failure: the first of each category


def _failure(report: Report) -> str:
    shown = [m.report() for m in report.first_of_each()[:SHOWN]]
    return "\n".join([report.summary(), *shown])


def _locations(backend: str, tmp_path: Path, request: pytest.FixtureRequest
               ) -> dict[str, DatabaseLocation]:
    if backend == "sqlite":
        return {key: DatabaseLocation("sqlite", str(tmp_path / f"{key}.sqlite"))
                for key in ("before", "after")}
    database = str(request.getfixturevalue("pg_database"))
    name = request.node.name.split("[")[0][-20:]
    return {key: DatabaseLocation("postgres", schema_url(database, f"diff_{key}_{name}"))
            for key in ("before", "after")}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_console_answers_what_langgraph_answers(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    report = await run_batch(Batch(SEEDS[backend], THREADS), _locations(backend, tmp_path,
                                                                         request), tmp_path)
    assert report.threads >= THREADS
    assert report.decided > 0
    if report.mismatches:
        pytest.fail(_failure(report), pytrace=False)
