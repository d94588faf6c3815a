"""Graphs that pause like LangChain 1.5's `HumanInTheLoopMiddleware(interrupt_mode="per_call")`.

- `agent`: the real thing. `create_agent` with a deterministic chat model that asks for
  two tool calls (`send_email`, `delete_file`) in its first turn and ends in its second;
  the middleware dispatches each call as a `Send` to `tools` and interrupts once per
  gated call with a `ToolApprovalRequest` and its `response_schema`. `delete_file`
  allows only approve and reject.
- `branches`: the same two pauses from two parallel PULL branches (START -> both), each
  calling `interrupt()` with a tool-approval payload and a decision type as its response
  schema, so LangGraph validates the answer as it does for the middleware. A branch acts
  on the decision as the middleware does: approve or edit runs the tool, reject and
  respond do not.

Each run of a tool is counted in `TOOL_RUNS[(thread_id, tool)]` (in this process: the
console resumes inline), so a test can tell "ran exactly once" from "ran twice".
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Any, Literal, TypedDict, Union

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain.agents.middleware.human_in_the_loop import (
    ApproveDecision,
    RejectDecision,
    RespondDecision,
)
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.config import get_config
from langgraph.graph import START, StateGraph
from langgraph.types import interrupt
from pydantic import BaseModel, Discriminator, create_model

TOOL_RUNS: Counter[tuple[str, str]] = Counter()
EMAIL_ARGS = {"to": "alice@example.com", "subject": "report"}
DELETE_ARGS = {"path": "/srv/report.pdf"}


def _thread(config: RunnableConfig | None = None) -> str:
    conf = (config or get_config()).get("configurable", {})
    return str(conf.get("thread_id"))


@tool
def send_email(to: str, subject: str) -> str:
    """Send an email."""
    TOOL_RUNS[(_thread(), "send_email")] += 1
    return f"sent to {to}: {subject}"


@tool
def delete_file(path: str) -> str:
    """Delete a file."""
    TOOL_RUNS[(_thread(), "delete_file")] += 1
    return f"deleted {path}"


class TwoToolCalls(BaseChatModel):
    """Asks for both tools after the user's message, and answers once they are done."""

    @property
    def _llm_type(self) -> str:
        return "two-tool-calls"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        if isinstance(messages[-1], HumanMessage):
            message = AIMessage(content="", tool_calls=[
                {"name": "send_email", "args": dict(EMAIL_ARGS), "id": "call-email"},
                {"name": "delete_file", "args": dict(DELETE_ARGS), "id": "call-delete"},
            ])
        else:
            message = AIMessage(content="done")
        return ChatResult(generations=[ChatGeneration(message=message)])


def _agent() -> Any:
    middleware = HumanInTheLoopMiddleware(
        interrupt_on={"send_email": True,
                      "delete_file": {"allowed_decisions": ["approve", "reject"]}},
        interrupt_mode="per_call",
    )
    return create_agent(TwoToolCalls(), tools=[send_email, delete_file],
                        middleware=[middleware], name="agent")


agent = _agent()


# --- the same pauses from parallel PULL branches -----------------------------------


class EmailArgs(BaseModel):
    to: str
    subject: str


class DeleteArgs(BaseModel):
    path: str


def decision_type(name: str, args: type[BaseModel], allowed: Sequence[str]) -> Any:
    """A decision union like the middleware's: the edit branch pins the tool's name and
    takes its arguments; LangGraph checks an answer against it before the node sees it."""
    edited = create_model(f"{name}_action", name=(Literal[name], ...), args=(args, ...))
    edit = create_model(f"{name}_edit", type=(Literal["edit"], ...), edited_action=(edited, ...))
    by_type: dict[str, Any] = {"approve": ApproveDecision, "edit": edit,
                               "reject": RejectDecision, "respond": RespondDecision}
    members = tuple(by_type[d] for d in allowed)
    if len(members) == 1:
        return members[0]
    return Annotated[Union[members], Discriminator("type")]  # noqa: UP007


class BranchState(TypedDict, total=False):
    received: Annotated[list[Any], operator.add]
    ran: Annotated[list[str], operator.add]


def _review(name: str, call_id: str, args: dict[str, Any], schema: Any) -> Any:
    def review(state: BranchState, config: RunnableConfig) -> dict[str, Any]:
        request = {"type": "tool_approval", "tool_call_id": call_id, "name": name,
                   "args": args, "description": f"Tool execution requires approval: {name}"}
        decision = interrupt(request, response_schema=schema)
        answer = decision.model_dump() if isinstance(decision, BaseModel) else dict(decision)
        ran = []
        if answer["type"] in ("approve", "edit"):
            used = answer["edited_action"]["args"] if answer["type"] == "edit" else args
            TOOL_RUNS[(_thread(config), name)] += 1
            ran = [f"{name}:{sorted(used.items())}"]
        return {"received": [answer], "ran": ran}
    return review


def _branches() -> Any:
    builder = StateGraph(BranchState)
    builder.add_node("review_email", _review(
        "send_email", "call-email", EMAIL_ARGS,
        decision_type("send_email", EmailArgs, ["approve", "edit", "reject", "respond"])))
    builder.add_node("review_delete", _review(
        "delete_file", "call-delete", DELETE_ARGS,
        decision_type("delete_file", DeleteArgs, ["approve", "reject"])))
    builder.add_edge(START, "review_email")
    builder.add_edge(START, "review_delete")
    return builder.compile(name="branches")


branches = _branches()

ALL = {"agent": agent, "branches": branches}


async def start(graph: Any, saver: Any, name: str, thread_id: str) -> Any:
    """Run `graph` on `saver` until it pauses; returns the graph bound to the saver."""
    bound = graph.copy(update={"checkpointer": saver})
    config = {"configurable": {"thread_id": thread_id}, "metadata": {"graph_id": name}}
    first = {"messages": [HumanMessage("email alice, then delete the report")]} \
        if name == "agent" else {}
    await bound.ainvoke(first, config)
    return bound
