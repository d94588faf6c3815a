"""Compiling a generated shape into a real LangGraph graph on a real saver.

Every node is deterministic. It asks its questions first (`interrupt({"node", "item",
"q"})`), then fails if the run's config names it (`configurable.fail`), then, only if
every answer approves, performs its gated action: one row in the project's side-effect
table (`tests/effects.py`: `race_effects`, here keyed `thread|node#item`). A node that
re-runs after a resume therefore records nothing twice unless LangGraph (or the console)
really runs the action twice.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool
from langgraph.config import get_config
from langgraph.func import entrypoint, task
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, Send, interrupt

from tests.differential.shapes import Agent, Flow, Graph, Node, Shape
from tests.effects import count_effects, prepare_effects


class NodeFailed(RuntimeError):
    """The failure a run asks for (`configurable.fail` names the node)."""


def approved(answer: Any) -> bool:
    """Whether an answer lets the gated action run: the raw convention's "approved" (any
    string not starting with "rejected"), or a per-call decision of type approve/edit."""
    if isinstance(answer, str):
        return not answer.startswith("rejected")
    if isinstance(answer, dict) and "type" in answer:
        return answer["type"] in ("approve", "edit", "accept")
    return answer is not None


class EffectSink:
    """Gated actions, one `race_effects` row each, in a SQLite file of the run's own."""

    def __init__(self, path: Path) -> None:
        self.target = prepare_effects(str(path))
        self._conn = sqlite3.connect(self.target, check_same_thread=False,
                                     isolation_level=None)
        self._conn.execute("PRAGMA synchronous=OFF")
        self._lock = threading.Lock()

    def record(self, thread_id: str, key: str) -> None:
        with self._lock:
            self._conn.execute("INSERT INTO race_effects VALUES (?, ?)",
                               (f"{thread_id}|{key}", os.getpid()))

    def counts(self, thread_id: str) -> Counter[str]:
        """How many times each gated action of the thread ran, by `node#item`."""
        prefix = f"{thread_id}|"
        return Counter({k.removeprefix(prefix): v for k, v in count_effects(self.target).items()
                        if k.startswith(prefix)})

    def close(self) -> None:
        self._conn.close()


def _union(old: list[str], new: list[str]) -> list[str]:
    # A subgraph returns its whole state: keep each log entry once.
    return old + [x for x in new if x not in old]


def _last(old: Any, new: Any) -> Any:
    # Parallel subgraphs return the same input keys in one step: the last one wins.
    return new


class State(TypedDict, total=False):
    log: Annotated[list[str], _union]
    item: Annotated[str, _last]
    pick: Annotated[int, _last]
    fan: Annotated[int, _last]


def _thread(config: Any) -> str:
    return str(config["configurable"]["thread_id"])


def _fails(config: Any, name: str) -> None:
    if config["configurable"].get("fail") == name:
        raise NodeFailed(f"{name} failed on purpose")


def _gated(sink: EffectSink, config: Any, name: str, item: str, answers: list[Any]) -> str:
    key = f"{name}#{item}"
    if all(approved(a) for a in answers):
        sink.record(_thread(config), key)
        return key
    return f"{key}:rejected"


def _node_fn(node: Node, sink: EffectSink, goto: Any = None) -> Any:
    """A plain node; `goto(state, item)`: it routes by returning `Command(goto=...)`."""
    name, asks = node.name, node.asks

    async def run(state: State, config: RunnableConfig) -> Any:
        item = str(state.get("item", ""))
        answers = [interrupt({"node": name, "item": item, "q": q}) for q in range(asks)]
        _fails(config, name)
        out: dict[str, Any] = {"log": [_gated(sink, config, name, item, answers)]}
        if item:  # a Send target: a Send fan-out after it reads its own item
            out["item"] = item
        if goto is not None:
            return Command(update=out, goto=goto(state, item))
        return out

    return run


def _called_fn(node: Node, subgraph: Any, goto: Any = None) -> Any:
    """A node that awaits a compiled subgraph inside its own function."""

    async def run(state: State, config: RunnableConfig) -> Any:
        result = await subgraph.ainvoke({**state, "log": []}, config)
        out: dict[str, Any] = {"log": list(result.get("log", []))}
        if goto is not None:
            return Command(update=out, goto=goto(state, str(state.get("item", ""))))
        return out

    return run


def build(shape: Shape, sink: EffectSink, checkpointer: Any) -> Any:
    """The compiled graph of a shape, saving into `checkpointer`."""
    if isinstance(shape, Flow):
        return _flow(shape, sink, checkpointer)
    if isinstance(shape, Agent):
        return _agent(shape, sink, checkpointer)
    return _graph(shape, sink, checkpointer)


def _graph(graph: Graph, sink: EffectSink, checkpointer: Any) -> Any:
    builder = StateGraph(State)
    gotos = _gotos(graph)
    for layer in graph.layers:
        for node in layer:
            goto = gotos.get(node.name)
            if node.sub is not None and node.wrapped:
                builder.add_node(node.name, _called_fn(node, _graph(node.sub, sink, None),
                                                       goto))
            elif node.sub is not None and goto is None:
                builder.add_node(node.name, _graph(node.sub, sink, None))
            elif node.sub is not None:  # a subgraph node cannot return a Command: wrap it
                builder.add_node(node.name, _called_fn(node, _graph(node.sub, sink, None),
                                                       goto))
            else:
                builder.add_node(node.name, _node_fn(node, sink, goto))
    for node in graph.layers[0]:
        builder.add_edge(START, node.name)
    for index, link in enumerate(graph.links):
        sources, targets = graph.layers[index], graph.layers[index + 1]
        names = [t.name for t in targets]
        for position, source in enumerate(sources):
            if link in ("goto", "goto_send"):
                continue  # the source node returns Command(goto=...)
            if link == "static":
                for target in names:
                    builder.add_edge(source.name, target)
            elif link == "cond":
                builder.add_conditional_edges(source.name, _picker(names, position), names)
            else:
                builder.add_conditional_edges(source.name, _sender(names[0], source.name),
                                              [names[0]])
    for node in graph.layers[-1]:
        builder.add_edge(node.name, END)
    before: Any = "*" if graph.before == ("*",) else list(graph.before) or None
    return builder.compile(checkpointer=checkpointer, name=graph.name,
                           interrupt_before=before,
                           interrupt_after=list(graph.after) or None)


def _gotos(graph: Graph) -> dict[str, Any]:
    """For the sources of `goto` links, what their `Command(goto=...)` names."""
    out: dict[str, Any] = {}
    for index, link in enumerate(graph.links):
        if link not in ("goto", "goto_send"):
            continue
        names = [t.name for t in graph.layers[index + 1]]
        for position, source in enumerate(graph.layers[index]):
            if link == "goto":
                pick = _picker(names, position)
                out[source.name] = lambda state, item, pick=pick: pick(state)
            else:
                send = _sender(names[0], source.name)
                out[source.name] = lambda state, item, send=send: send(
                    {**state, "item": item})
    return out


def _picker(names: list[str], position: int) -> Any:
    def pick(state: State) -> list[str]:
        bits = int(state.get("pick", 0)) >> position
        chosen = [n for i, n in enumerate(names) if (bits >> i) & 1]
        return chosen or [names[bits % len(names)]]
    return pick


def _sender(target: str, source: str) -> Any:
    def send(state: State) -> list[Send]:
        fan = int(state.get("fan", 1))
        base = state.get("item") or source  # a Send target sending on: items stay distinct
        return [Send(target, {"item": f"{base}.{k}", "pick": state.get("pick", 0),
                              "fan": fan}) for k in range(fan)]
    return send


# ---------------------------------------------------------------- Functional API


def _flow(flow: Flow, sink: EffectSink, checkpointer: Any) -> Any:
    tasks = {}
    for task_name, asks in flow.tasks:
        tasks[task_name] = task(name=task_name)(_task_fn(task_name, asks, sink))
    name = flow.name

    async def body(inputs: dict[str, Any]) -> list[str]:
        config = get_config()
        answers = [interrupt({"node": name, "item": "", "q": q})
                   for q in range(flow.asks_first)]
        items = range(min(3, int(inputs.get("fan", 1))))  # keep flows small
        results: list[str] = []
        if flow.parallel:
            futures = [tasks[t](str(k)) for t in tasks for k in items]
            results = list(await asyncio.gather(*futures))
        else:
            for t in tasks:
                for k in items:
                    results.append(await tasks[t](str(k)))
        answers += [interrupt({"node": name, "item": "", "q": flow.asks_first + q})
                    for q in range(flow.asks_last)]
        _fails(config, name)
        return [*results, _gated(sink, config, name, "", answers)]

    body.__name__ = name
    return entrypoint(checkpointer=checkpointer)(body)


def _task_fn(name: str, asks: int, sink: EffectSink) -> Any:
    async def run(item: str) -> str:
        config = get_config()
        answers = [interrupt({"node": name, "item": item, "q": q}) for q in range(asks)]
        _fails(config, name)
        return _gated(sink, config, name, item, answers)
    run.__name__ = name
    return run


# ---------------------------------------------------------------- agents


class ScriptedModel(BaseChatModel):
    """A chat model that calls the given tools once, then answers "done"."""

    calls: list[dict[str, Any]]

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop: Any = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        if any(isinstance(m, ToolMessage) for m in messages):
            reply = AIMessage(content="done")
        else:
            reply = AIMessage(content="", tool_calls=self.calls)
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self


def _tools(agent: Agent, sink: EffectSink) -> list[StructuredTool]:
    asks = agent.style != "per_call"  # per_call: the middleware asks, the tool only acts

    async def gated(x: int) -> str:
        config = get_config()
        answers = [interrupt({"node": "tools", "item": str(x), "q": 0})] if asks else []
        _fails(config, "tools")
        return _gated(sink, config, "tools", str(x), answers)

    async def plain(x: int) -> str:
        # Recorded apart ("plain#x"): one ToolNode task running several calls re-runs
        # them all when one of them asks (LangGraph re-runs an interrupted task whole),
        # so only the asking tool's action is held to exactly once.
        config = get_config()
        _fails(config, "tools")
        return _gated(sink, config, "plain", str(x), [])

    return [StructuredTool.from_function(coroutine=gated, name="gated",
                                         description="acts after a human approves"),
            StructuredTool.from_function(coroutine=plain, name="plain",
                                         description="acts at once")]


def _calls(agent: Agent) -> list[dict[str, Any]]:
    return [{"name": "gated" if g else "plain", "args": {"x": i}, "id": f"call{i}",
             "type": "tool_call"} for i, g in enumerate(agent.gated)]


def _agent(agent: Agent, sink: EffectSink, checkpointer: Any) -> Any:
    model = ScriptedModel(calls=_calls(agent))
    tools = _tools(agent, sink)
    before = ["tools"] if agent.before_tools else None
    if agent.style in ("create_agent", "per_call"):
        from langchain.agents import create_agent
        from langchain.agents.middleware import HumanInTheLoopMiddleware

        middleware = [HumanInTheLoopMiddleware({"gated": True}, interrupt_mode="per_call")] \
            if agent.style == "per_call" else []
        return create_agent(model, tools, middleware=middleware, checkpointer=checkpointer,
                            interrupt_before=before, name=agent.name)

    async def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    def route(state: MessagesState) -> Any:
        last = state["messages"][-1]
        calls = getattr(last, "tool_calls", None) or []
        if not calls:
            return END
        if agent.style == "toolnode_send":
            return [Send("tools", [call]) for call in calls]
        return "tools"

    builder = StateGraph(MessagesState)
    builder.add_node("model", call_model)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "model")
    builder.add_conditional_edges("model", route, ["tools", END])
    builder.add_edge("tools", "model")
    return builder.compile(checkpointer=checkpointer, name=agent.name,
                           interrupt_before=before)


def first_input(shape: Shape, pick: int, fan: int) -> Any:
    """The input a thread of this shape starts with."""
    if isinstance(shape, Agent):
        return {"messages": [HumanMessage(content="go")]}
    if isinstance(shape, Flow):
        return {"fan": fan}
    return {"log": [], "pick": pick, "fan": fan, "item": ""}


