"""Random LangGraph graph shapes, drawn from a seeded `random.Random`.

A shape is plain data (frozen dataclasses) that `build.py` turns into a compiled graph,
and that `describe` prints on one line so a mismatch names exactly what was generated.
Three families, as applications write them:

- `Graph`: a StateGraph of layers. Layer 0 hangs off START (parallel branches when it has
  several nodes); layer i reaches layer i+1 by static edges, by a conditional edge that
  picks a subset from the thread's input, by a `Send` fan-out of 1-5 to a single
  target node, or by the source nodes returning `Command(goto=...)` (node names, or
  `Send`s). A node calls `interrupt()` 0-2 times, or is a compiled subgraph (up to 3
  deep, itself a `Graph`), added as the node or awaited inside a node function. Static
  `interrupt_before/after` gate root nodes of any kind (plain, `Send` target, subgraph;
  rarely "*"); a subgraph may carry its own breakpoints.
- `Flow`: the Functional API, an `@entrypoint` with `@task`s (run in parallel or one
  after the other) and `interrupt()` in the entrypoint (before and/or after the tasks)
  or in the tasks.
- `Agent`: tool calls of one model turn, through LangChain's `create_agent` (calls
  dispatched as `Send`s to `tools`), a prebuilt `ToolNode` fed by `Send`s or run once
  for all calls, or `create_agent` with `HumanInTheLoopMiddleware(interrupt_mode=
  "per_call")`. Some calls go to a tool that asks before it acts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

MAX_DEPTH = 3  # subgraphs nested under the root graph
LinkKind = Literal["static", "cond", "send", "goto", "goto_send"]
AgentStyle = Literal["create_agent", "toolnode_send", "toolnode", "per_call"]


@dataclass(frozen=True)
class Node:
    name: str
    asks: int = 0  # interrupt() calls in the node, in order
    sub: Graph | None = None  # a compiled subgraph as the node
    wrapped: bool = False  # the subgraph is awaited inside a node function instead


@dataclass(frozen=True)
class Graph:
    name: str
    layers: tuple[tuple[Node, ...], ...]
    links: tuple[LinkKind, ...]  # how layer i reaches layer i + 1
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()

    def nodes(self) -> list[Node]:
        """Every node of this graph and of its subgraphs, depth first."""
        out: list[Node] = []
        for layer in self.layers:
            for node in layer:
                out.append(node)
                if node.sub is not None:
                    out.extend(node.sub.nodes())
        return out


@dataclass(frozen=True)
class Flow:
    name: str
    asks_first: int  # interrupts in the entrypoint before its tasks
    tasks: tuple[tuple[str, int], ...]  # (task name, interrupts in it)
    parallel: bool
    asks_last: int  # interrupts in the entrypoint after its tasks

    def nodes(self) -> list[Node]:
        return [Node(self.name, self.asks_first + self.asks_last),
                *(Node(n, a) for n, a in self.tasks)]


@dataclass(frozen=True)
class Agent:
    name: str
    style: AgentStyle
    gated: tuple[bool, ...]  # one tool call each; True: the call goes to the asking tool
    before_tools: bool = False  # interrupt_before=["tools"]

    def nodes(self) -> list[Node]:
        return [Node("model"), Node("tools", 1 if any(self.gated) else 0)]


Shape = Graph | Flow | Agent


@dataclass
class _Names:
    prefix: str
    count: int = 0
    taken: set[str] = field(default_factory=set)

    def next(self) -> str:
        self.count += 1
        return f"{self.prefix}n{self.count}"


def random_shape(rng: random.Random, name: str) -> Shape:
    """One shape: mostly StateGraphs (the richest family), then flows and agents."""
    family = rng.choices(["graph", "flow", "agent"], weights=[6, 2, 2])[0]
    if family == "flow":
        return _flow(rng, name)
    if family == "agent":
        return _agent(rng, name)
    return _graph(rng, name, _Names(f"{name}_"), depth=0)


def _asks(rng: random.Random) -> int:
    return rng.choices([0, 1, 2], weights=[5, 4, 1])[0]


def _graph(rng: random.Random, name: str, names: _Names, depth: int) -> Graph:
    n_layers = rng.randint(1, 4 if depth == 0 else 2)
    layers: list[tuple[Node, ...]] = []
    links: list[LinkKind] = []
    for index in range(n_layers):
        link: LinkKind | None = None
        if index > 0:
            link = rng.choices(["static", "cond", "send", "goto", "goto_send"],
                               weights=[4, 2, 3, 1, 1])[0]
            links.append(link)
        width = 1 if link in ("send", "goto_send") else rng.choices([1, 2, 3],
                                                                   weights=[5, 3, 1])[0]
        layer = []
        for _ in range(width):
            node_name = names.next()
            if depth < MAX_DEPTH and rng.random() < (0.22 if depth == 0 else 0.3):
                layer.append(Node(node_name, 0, _graph(rng, node_name, names, depth + 1),
                                  wrapped=rng.random() < 0.25))
            else:
                layer.append(Node(node_name, _asks(rng)))
        layers.append(tuple(layer))
    own = [n.name for layer in layers for n in layer]
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    # Root breakpoints are the common case; a subgraph's own are rarer.
    if rng.random() < (0.45 if depth == 0 else 0.12):
        before = tuple(sorted(rng.sample(own, rng.randint(1, min(2, len(own))))))
        if depth == 0 and rng.random() < 0.06:
            before = ("*",)
    if rng.random() < (0.25 if depth == 0 else 0.08):
        after = tuple(sorted(rng.sample(own, 1)))
    return Graph(name, tuple(layers), tuple(links), before, after)


def _flow(rng: random.Random, name: str) -> Flow:
    tasks = tuple((f"{name}_t{i + 1}", _asks(rng)) for i in range(rng.randint(1, 3)))
    return Flow(name, rng.choices([0, 1, 2], weights=[4, 4, 1])[0], tasks,
                rng.random() < 0.6, rng.choices([0, 1], weights=[3, 1])[0])


def _agent(rng: random.Random, name: str) -> Agent:
    style: AgentStyle = rng.choice(["create_agent", "toolnode_send", "toolnode", "per_call"])
    calls = rng.randint(1, 4)
    gated = tuple(rng.random() < 0.6 for _ in range(calls))
    if style == "toolnode" and sum(gated) > 1:
        # One ToolNode task runs every call: LangGraph surfaces one question at a time and
        # re-runs the task whole, so an approved call runs again while the next one asks
        # (plain LangGraph does it too). Exactly once needs at most one asking call there.
        first = gated.index(True)
        gated = tuple(i == first for i in range(calls))
    return Agent(name, style, gated, before_tools=rng.random() < 0.2)


def describe(shape: Shape) -> str:
    """The shape on one line, e.g. `graph g3: [n1(ask2)] -send-> [n2] before=n2`."""
    if isinstance(shape, Flow):
        tasks = ", ".join(f"{n}(ask{a})" for n, a in shape.tasks)
        order = "parallel" if shape.parallel else "serial"
        return (f"flow {shape.name}: entry ask{shape.asks_first} -> {order} tasks "
                f"[{tasks}] -> entry ask{shape.asks_last}")
    if isinstance(shape, Agent):
        calls = "".join("G" if g else "p" for g in shape.gated)
        gate = " before=tools" if shape.before_tools else ""
        return f"agent {shape.name}: {shape.style} calls={calls}{gate}"
    return f"graph {_graph_text(shape)}"


def _graph_text(graph: Graph) -> str:
    parts = []
    for index, layer in enumerate(graph.layers):
        if index:
            parts.append(f"-{graph.links[index - 1]}->")
        parts.append("[" + " ".join(_node_text(n) for n in layer) + "]")
    gates = "".join(
        f" {label}={','.join(nodes)}" for label, nodes in
        (("before", graph.before), ("after", graph.after)) if nodes)
    return f"{graph.name}: {' '.join(parts)}{gates}"


def _node_text(node: Node) -> str:
    if node.sub is not None:
        return ("{called " if node.wrapped else "{sub ") + _graph_text(node.sub) + "}"
    short = node.name.rsplit("_", 1)[-1]
    return f"{short}(ask{node.asks})" if node.asks else short
