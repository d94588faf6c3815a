"""Real checkpoint rows in every pause form, and ways to damage one of them.

The hostile-row tests seed a small queue with real compiled graphs (inline interrupts,
parallel branches, a `Send` map-reduce, Functional API pauses, a static breakpoint and
finished threads), then damage one stored row as a bad deploy, a disk or an attacker
would: bytes flipped, cut short, the serializer type swapped, the thread id made
non-UTF-8, or a value nested 5000 levels deep.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.func import entrypoint, task
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt

from tests import graphs

MARKER_ENV = "HITL_TEST_MARKER"  # where a payload that ran would leave its mark


class ItemsState(TypedDict, total=False):
    items: list[str]
    approved: Annotated[list[str], operator.add]


def _fan_out(state: ItemsState) -> list[Send]:
    return [Send("approve_item", {"items": [item]}) for item in state["items"]]


def _approve_item(state: ItemsState) -> dict[str, Any]:
    item = state["items"][0]
    return {"approved": [f"{item}:{interrupt({'approve': item})}"]}


def _mapreduce() -> Any:
    builder = StateGraph(ItemsState)
    builder.add_node("approve_item", _approve_item)
    builder.add_conditional_edges(START, _fan_out, ["approve_item"])
    builder.add_edge("approve_item", END)
    return builder.compile(name="mapreduce")


mapreduce = _mapreduce()


@entrypoint()
def workflow(topic: str) -> str:
    """The Functional API, paused in the entrypoint itself."""
    answer = interrupt({"publish": topic})
    return f"{topic}: {answer}"


@task
def _review(topic: str) -> str:
    return str(interrupt({"review": topic}))


@entrypoint()
def tasked(topic: str) -> str:
    """The Functional API, paused inside a `@task`."""
    return _review(topic).result()


GRAPHS: dict[str, Any] = {
    "raw": graphs.raw, "hitl": graphs.hitl, "parallel": graphs.parallel,
    "before": graphs.before, "mapreduce": mapreduce, "workflow": workflow, "tasked": tasked,
}
GRAPH_SPECS = [
    *(f"--graph={name}=tests.graphs:{name}" for name in ("raw", "hitl", "parallel", "before")),
    *(f"--graph={name}=tests.hostile:{name}" for name in ("mapreduce", "workflow", "tasked")),
]

# thread id -> (graph, input, resumed to the end?)
THREADS: dict[str, tuple[str, Any, bool]] = {
    "raw-paused": ("raw", {"topic": "a"}, False),
    "hitl-paused": ("hitl", {"topic": "b"}, False),
    "parallel-paused": ("parallel", {"topic": "c"}, False),
    "before-paused": ("before", {"topic": "d"}, False),
    "mapreduce-paused": ("mapreduce", {"items": ["x", "y", "z"]}, False),
    "workflow-paused": ("workflow", "e", False),
    "tasked-paused": ("tasked", "f", False),
    "raw-finished": ("raw", {"topic": "g"}, True),
    "before-finished": ("before", {"topic": "h"}, True),
}
PAUSED = sorted(t for t, (_, _, done) in THREADS.items() if not done)


async def seed(saver: Any) -> None:
    """Run every thread of THREADS on `saver` until it pauses (or to its end)."""
    for thread_id, (name, state, finish) in THREADS.items():
        graph = GRAPHS[name].copy(update={"checkpointer": saver})
        config: Any = {"configurable": {"thread_id": thread_id},
                       "metadata": {"graph_id": name}}
        await graph.ainvoke(state, config)
        while finish:
            snapshot = await graph.aget_state(config)
            if not snapshot.next:
                break
            resume = {i.id: "approved" for i in snapshot.interrupts}
            await graph.ainvoke(Command(resume=resume) if resume else None, config)
