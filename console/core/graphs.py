"""Loading the application's compiled graphs and matching threads to them."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.core.errors import UsageError
from console.core.inside import Gates

LANGGRAPH_JSON = "langgraph.json"


@dataclass(frozen=True, slots=True)
class GraphInfo:
    """What the console needs to know about one compiled graph."""

    name: str
    graph: Any  # a compiled Pregel graph; typed loosely so the core stays light
    nodes: frozenset[str]
    interrupt_before: frozenset[str]
    interrupt_after: frozenset[str]
    interrupt_before_all: bool
    interrupt_after_all: bool
    # nodes triggered by the `__start__` channel: the START node of a StateGraph, the
    # entrypoint of a Functional API workflow
    start_nodes: tuple[str, ...] = ()
    # nodes that run a subgraph with static breakpoints of its own (at any depth): the
    # subgraph stops there and the root head only shows the node as not finished
    nested_breakpoints: frozenset[str] = frozenset()
    # each subgraph node's own breakpoints, by its path (`mid|inner`): `inside.Inside`
    subgraph_gates: Mapping[str, Gates] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, graph: Any) -> GraphInfo:
        nodes = frozenset(n for n in getattr(graph, "nodes", {}) if not n.startswith("__"))
        before = getattr(graph, "interrupt_before_nodes", ()) or ()
        after = getattr(graph, "interrupt_after_nodes", ()) or ()
        return cls(
            name=name,
            graph=graph,
            nodes=nodes,
            interrupt_before=frozenset(() if before == "*" else before),
            interrupt_after=frozenset(() if after == "*" else after),
            interrupt_before_all=before == "*",
            interrupt_after_all=after == "*",
            start_nodes=tuple(
                n for n, spec in getattr(graph, "nodes", {}).items()
                if "__start__" in (getattr(spec, "triggers", None) or ())),
            nested_breakpoints=_nested_breakpoints(graph),
            subgraph_gates=_subgraph_gates(graph),
        )

    def pauses_before(self, node: str) -> bool:
        return self.interrupt_before_all or node in self.interrupt_before

    def pauses_after(self, node: str) -> bool:
        return self.interrupt_after_all or node in self.interrupt_after


def _subgraph_gates(graph: Any) -> dict[str, Gates]:
    """The static breakpoints of every subgraph that is a node (at any depth), by path."""
    try:
        subgraphs = list(graph.get_subgraphs(recurse=True))
    except Exception:  # not a Pregel graph, or one whose subgraphs cannot be listed
        return {}
    gates = {}
    for name, sub in subgraphs:
        before = getattr(sub, "interrupt_before_nodes", None) or ()
        after = getattr(sub, "interrupt_after_nodes", None) or ()
        gates[name] = Gates(frozenset(() if before == "*" else before),
                            frozenset(() if after == "*" else after),
                            before == "*", after == "*")
    return gates


def _nested_breakpoints(graph: Any) -> frozenset[str]:
    """Root nodes whose subgraph (at any depth) has `interrupt_before/after` of its own."""
    try:
        subgraphs = list(graph.get_subgraphs(recurse=True))
    except Exception:  # not a Pregel graph, or one whose subgraphs cannot be listed
        return frozenset()
    return frozenset(
        name.split("|")[0] for name, sub in subgraphs
        if getattr(sub, "interrupt_before_nodes", None)
        or getattr(sub, "interrupt_after_nodes", None))


class GraphRegistry:
    """The graphs the console knows, by name; empty when it only reads checkpoints."""

    def __init__(self, graphs: Iterable[GraphInfo] = ()) -> None:
        self._by_name: dict[str, GraphInfo] = {g.name: g for g in graphs}

    def __bool__(self) -> bool:
        return bool(self._by_name)

    def __iter__(self) -> Any:
        return iter(self._by_name.values())

    def get(self, name: str | None) -> GraphInfo | None:
        return self._by_name.get(name) if name else None

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def for_thread(
        self, metadata: Mapping[str, Any], nodes: Iterable[str]
    ) -> GraphInfo | None:
        """The thread's graph: metadata `graph_id` if known, else the only graph with its nodes."""
        graph_id = metadata.get("graph_id")
        if isinstance(graph_id, str) and graph_id in self._by_name:
            return self._by_name[graph_id]
        wanted = {n for n in nodes if not n.startswith("__")}
        if not wanted:
            return None
        matches = [g for g in self._by_name.values() if wanted <= g.nodes]
        return matches[0] if len(matches) == 1 else None


def load_graph(spec: str) -> GraphInfo:
    """Import `NAME=module:attr` or `module:attr` (the name defaults to attr)."""
    name, _, target = spec.rpartition("=")
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"Graph {spec!r} is not of the form NAME=module:attr or module:attr.")
    if module_name.endswith(".py") or "/" in module_name:
        module = _import_file(Path(module_name))
    else:
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise UsageError(f"Cannot import graph module {module_name!r}: {exc}.") from exc
    graph = module
    for part in attr.split("."):
        if not hasattr(graph, part):
            raise UsageError(f"Module {module_name!r} has no attribute {attr!r}.")
        graph = getattr(graph, part)
    if callable(graph) and not hasattr(graph, "nodes"):
        graph = graph()  # a factory such as `make_graph`
    if not hasattr(graph, "nodes") or not hasattr(graph, "ainvoke"):
        raise UsageError(f"{spec!r} is not a compiled LangGraph graph.")
    return GraphInfo.of(name or attr.split(".")[-1], graph)


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise UsageError(f"Graph file {str(path)!r} does not exist.")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"Cannot import graph file {str(path)!r}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise UsageError(f"Importing graph file {str(path)!r} failed: {exc}.") from exc
    return module


def load_langgraph_json(path: Path) -> list[GraphInfo]:
    """The `graphs` mapping of a langgraph.json (`"name": "./file.py:attr"`)."""
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"Cannot read {path}: {exc}.") from exc
    graphs = config.get("graphs") or {}
    if not isinstance(graphs, dict):
        raise UsageError(f"{path}: 'graphs' must map names to module:attr paths.")
    infos = []
    for name, target in graphs.items():
        module_part, _, attr = str(target).partition(":")
        if module_part.endswith(".py") or module_part.startswith("."):
            module_part = str((path.parent / module_part).resolve())
        infos.append(load_graph(f"{name}={module_part}:{attr}"))
    return infos


def load_registry(specs: Iterable[str], cwd: Path | None = None) -> GraphRegistry:
    """Graphs from `--graph` flags, else from ./langgraph.json when there is one."""
    specs = list(specs)
    if specs:
        return GraphRegistry(load_graph(s) for s in specs)
    candidate = (cwd or Path.cwd()) / LANGGRAPH_JSON
    if candidate.is_file():
        return GraphRegistry(load_langgraph_json(candidate))
    return GraphRegistry()
