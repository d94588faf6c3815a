"""What the demo graphs share: their types, the answer contracts and the fake tools.

Split out of `graphs.py` so the graphs whose pauses are PUSH tasks (`task_graphs.py`)
use the same contracts without an import cycle (`graphs.py` holds the registry of both).
"""

import operator
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.message import add_messages
from langgraph.pregel import Pregel
from langgraph.types import interrupt

Saver = BaseCheckpointSaver[Any] | None
# A compiled StateGraph or a Functional API entrypoint: both are Pregel graphs.
CompiledGraph = Pregel[Any, Any, Any, Any]
GraphBuilder = Callable[[Saver], CompiledGraph]
Kind = Literal["interrupt", "before", "after"]
ConventionName = Literal[
    "langchain-hitl", "agent-inbox", "tool-approval", "schema", "raw", "breakpoint"
]

APPROVED = "approved"
REJECTED_PREFIX = "rejected: "


def raw_decision(answer: Any) -> tuple[bool, str | None]:
    """The tutorial contract: "approved", or "rejected: <reason>"; anything else is an error."""
    if answer == APPROVED:
        return True, None
    if isinstance(answer, str) and answer.startswith(REJECTED_PREFIX):
        return False, answer.removeprefix(REJECTED_PREFIX)
    raise ValueError(f'expected "approved" or "rejected: <reason>", got {answer!r}')


def ask_until_valid(
    payload: dict[str, Any], check: Callable[[Any], Any], schema: dict[str, Any] | None = None
) -> Any:
    """interrupt(payload) until `check` accepts the answer; returns what `check` returns.

    Raising instead would store the bad answer as this task's resume value, and LangGraph
    would replay it on every later resume: the pause could never be answered again.
    """
    asked = payload
    while True:
        answer = interrupt(asked, response_schema=schema)
        try:
            return check(answer)
        except ValueError as exc:
            asked = {**payload, "error": str(exc)}


# --- the agents' fake tools -----------------------------------------------------------

ALLOWED_DECISIONS: dict[str, list[str]] = {
    # "respond" answers in the tool's place without running it.
    "send_email": ["approve", "edit", "reject", "respond"],
    # Deleting data may be approved or rejected but not rewritten by the reviewer.
    "delete_records": ["approve", "reject"],
}


class AgentState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    user: dict[str, Any]
    task: dict[str, Any] | None
    todo: list[str]  # no reducer
    labels: set[str]
    started_at: datetime
    executed: Annotated[list[dict[str, Any]], operator.add]


def tool_description(name: str, args: Mapping[str, Any]) -> str:
    """What LangChain's HITL middleware shows a reviewer for one tool call."""
    return f"Tool execution requires approval\n\nTool: {name}\nArgs: {dict(args)}"


def run_tool(name: str, args: Mapping[str, Any]) -> str:
    """The fake tools: they only report; the caller records the execution in state."""
    if name == "send_email":
        return f"Email '{args['subject']}' sent to {args['to']}"
    if name == "delete_records":
        return f"Deleted {3 * len(str(args['where']))} rows from {args['table']}"
    raise ValueError(f"unknown tool {name!r}")


# LangGraph's END, typed as the literal that routing annotations need.
END_ROUTE: Literal["__end__"] = "__end__"

