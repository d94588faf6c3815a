"""Demo graphs that pause inside tasks other than a plain node run by an edge.

| name | pause | convention | gated side effect |
|---|---|---|---|
| `map_reduce` | `interrupt()` in each `Send("approve_item", ...)` branch | raw | `reimbursed` |
| `functional` | `interrupt()` in the `@entrypoint` `vendor_onboarding` | raw | `vendors_created` |
| `functional_task` | `interrupt()` in the `@task` `legal_review` | raw | `renewals` |
| `tool_agent` | `interrupt()` in each tool, a `Send` per call | tool-approval | `executed` |

In LangGraph's terms: the `Send` branches and the Functional API's `@task`s are PUSH tasks
(packets in `__pregel_tasks`), the entrypoint is a PULL task triggered by `__start__` (its
paused head is the step -1 input checkpoint, with no state values yet), and `tool_agent`
dispatches each tool call as `Send("tools", [tool_call])` to a prebuilt `ToolNode`, the way
LangChain's `create_agent` does. `aget_state()` reports `next=('approve_item',) * n`,
`('vendor_onboarding',)`, `('contract_renewal',)` and `('tools', 'tools')`.

The tools ask in the shape of LangChain 1.5's `HumanInTheLoopMiddleware(interrupt_mode=
"per_call")`: one `{"type": "tool_approval", "tool_call_id", "name", "args",
"description"}` per call, whose `response_schema` lists the decisions that tool allows
and, for edits, its argument schema; each is answered by its own interrupt id with one
decision. LangGraph validates that answer against the schema before storing it, so an
invalid one fails the run (`ValidationError`) and leaves the pause as it was; the other
graphs re-ask, like `graphs.py`'s raw ones.
"""

import operator
from decimal import Decimal
from typing import Annotated, Any, Literal, NotRequired, cast

from langchain_core.messages import AIMessage, ToolCall, ToolMessage
from langchain_core.tools import InjectedToolCallId, tool
from langgraph.func import entrypoint, task
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, Send, interrupt
from pydantic import Discriminator
from typing_extensions import TypedDict  # pydantic needs it for response schemas on 3.11

from console.demo.gates import (
    END_ROUTE,
    AgentState,
    CompiledGraph,
    Saver,
    ask_until_valid,
    raw_decision,
    run_tool,
    tool_description,
)

# --- map_reduce: one approval per expense line, each in its own Send branch ------------


class ExpenseState(TypedDict):
    report: dict[str, Any]
    items: list[dict[str, Any]]  # no reducer
    reviews: Annotated[list[dict[str, Any]], operator.add]
    reimbursed: Annotated[list[dict[str, Any]], operator.add]
    status: str


class LineReview(TypedDict):
    """What one `Send("approve_item", ...)` branch gets: one line, not the whole state."""

    report_id: str
    employee: str
    lines: int
    item: dict[str, Any]


def _collect(state: ExpenseState) -> dict[str, Any]:
    return {"status": f"{len(state['items'])} lines in review"}


def _fan_out(state: ExpenseState) -> list[Send]:
    """One branch per line: each asks its own question and can be answered on its own."""
    report = state["report"]
    return [
        Send(
            "approve_item",
            LineReview(
                report_id=report["id"],
                employee=report["employee"],
                lines=len(state["items"]),
                item=item,
            ),
        )
        for item in state["items"]
    ]


def _approve_item(state: LineReview) -> dict[str, Any]:
    item = state["item"]
    question = (
        f"Reimburse line {item['line']} of {state['lines']}: {item['merchant']} "
        f"{item['amount']} {item['currency']}?"
    )
    payload = {"question": question, "report_id": state["report_id"],
               "employee": state["employee"], "item": item}
    approved, reason = ask_until_valid(payload, raw_decision)
    review = {"line": item["line"], "decision": "approved" if approved else "rejected",
              "reason": reason}
    if not approved:
        return {"reviews": [review]}
    paid = {"report_id": state["report_id"], "line": item["line"], "amount": item["amount"],
            "currency": item["currency"]}
    return {"reviews": [review], "reimbursed": [paid]}


def _settle(state: ExpenseState) -> dict[str, Any]:
    paid = len(state["reimbursed"])
    return {"status": f"settled: {paid} of {len(state['items'])} lines reimbursed"}


def build_map_reduce(checkpointer: Saver = None) -> CompiledGraph:
    """collect -> Send("approve_item") per line (each interrupts) -> settle."""
    graph = StateGraph(ExpenseState)
    graph.add_node("collect", _collect)
    graph.add_node("approve_item", _approve_item, input_schema=LineReview)
    graph.add_node("settle", _settle)
    graph.add_edge(START, "collect")
    graph.add_conditional_edges("collect", _fan_out, ["approve_item"])
    graph.add_edge("approve_item", "settle")
    graph.add_edge("settle", END)
    return graph.compile(checkpointer=checkpointer, name="map_reduce")


# --- functional: the Functional API, asking in the entrypoint -------------------------


@task
def screen_vendor(vendor: dict[str, Any]) -> dict[str, Any]:
    """A deterministic risk check (a task: its result is kept when the entrypoint reruns)."""
    score = (len(vendor["name"]) * 41 + int(vendor["annual_spend"])) % 100
    flags = ["new country"] if vendor["country"] not in ("DE", "FR") else []
    return {"score": score, "flags": flags, "sanctions_hit": False}


@task
def create_vendor_account(vendor: dict[str, Any], screening: dict[str, Any]) -> dict[str, Any]:
    """The gated side effect: the vendor becomes payable."""
    return {"vendor": vendor["name"], "iban": vendor["bank"]["iban"],
            "risk_score": screening["score"]}


def vendor_onboarding(request: dict[str, Any]) -> dict[str, Any]:
    """Screen the vendor, ask a human, then create the account (or not)."""
    vendor = request["vendor"]
    screening = screen_vendor(vendor).result()
    payload = {"question": f"Onboard {vendor['name']} as a vendor?",
               "annual_spend": vendor["annual_spend"], "screening": screening}
    approved, reason = ask_until_valid(payload, raw_decision)
    if not approved:
        return {"status": "declined", "reason": reason, "vendors_created": []}
    account = create_vendor_account(vendor, screening).result()
    return {"status": "onboarded", "vendors_created": [account]}


def build_functional(checkpointer: Saver = None) -> CompiledGraph:
    """`@entrypoint` vendor_onboarding: interrupt() in the entrypoint, between two tasks."""
    return entrypoint(checkpointer=checkpointer)(vendor_onboarding)


# --- functional_task: the Functional API, asking inside a task -------------------------


@task
def price_renewal(contract: dict[str, Any]) -> dict[str, Any]:
    uplift = Decimal(contract["uplift_percent"]) / 100
    price = (contract["annual_price"] * (1 + uplift)).quantize(Decimal("0.01"))
    return {"contract_id": contract["id"], "annual_price": price,
            "currency": contract["currency"]}


@task
def legal_review(contract: dict[str, Any], quote: dict[str, Any]) -> dict[str, Any]:
    """The pause: the question is asked from inside this task, not from the entrypoint."""
    payload = {
        "question": f"Renew {contract['id']} with {contract['vendor']} at "
                    f"{quote['annual_price']} {quote['currency']} a year?",
        "term_months": contract["term_months"],
        "clauses": contract["clauses"],
    }
    approved, reason = ask_until_valid(payload, raw_decision)
    return {"approved": approved, "reason": reason}


@task
def sign_renewal(contract: dict[str, Any], quote: dict[str, Any]) -> dict[str, Any]:
    """The gated side effect: the renewal is signed."""
    return {"contract_id": contract["id"], "annual_price": quote["annual_price"],
            "currency": quote["currency"], "signed_by": contract["signatory"]}


def contract_renewal(contract: dict[str, Any]) -> dict[str, Any]:
    """Price the renewal, have legal approve it (inside a task), then sign it."""
    quote = price_renewal(contract).result()
    review = legal_review(contract, quote).result()
    if not review["approved"]:
        return {"status": "not renewed", "reason": review["reason"], "renewals": []}
    return {"status": "renewed", "renewals": [sign_renewal(contract, quote).result()]}


def build_functional_task(checkpointer: Saver = None) -> CompiledGraph:
    """`@entrypoint` contract_renewal: interrupt() inside the `legal_review` task."""
    return entrypoint(checkpointer=checkpointer)(contract_renewal)


# --- tool_agent: tools run one per Send, each asking for approval of its own call -------


class ApproveDecision(TypedDict):
    type: Literal["approve"]


class RejectDecision(TypedDict):
    type: Literal["reject"]
    message: NotRequired[str]


class RespondDecision(TypedDict):
    type: Literal["respond"]
    message: str


class SendEmailArgs(TypedDict):
    to: str
    subject: str
    body: str


class EditedSendEmail(TypedDict):
    name: Literal["send_email"]
    args: SendEmailArgs


class EditSendEmail(TypedDict):
    type: Literal["edit"]
    edited_action: EditedSendEmail


# The decisions each tool allows (ALLOWED_DECISIONS), as the types LangGraph checks an
# answer against and publishes as the interrupt's JSON `response_schema`.
_DECISIONS: dict[str, Any] = {
    "send_email": Annotated[
        ApproveDecision | EditSendEmail | RejectDecision | RespondDecision,
        Discriminator("type"),
    ],
    "delete_records": Annotated[ApproveDecision | RejectDecision, Discriminator("type")],
}


def _gated_call(name: str, args: dict[str, Any], tool_call_id: str) -> Command[Any]:
    """Ask about this one call, then run it (as edited) or answer in its place."""
    request = {"type": "tool_approval", "tool_call_id": tool_call_id, "name": name,
               "args": args, "description": tool_description(name, args)}
    decision = cast(dict[str, Any], interrupt(request, response_schema=_DECISIONS[name]))
    kind = decision["type"]
    if kind in ("reject", "respond"):
        text = decision.get("message") or f"User rejected the tool call for `{name}`."
        status: Literal["success", "error"] = "success" if kind == "respond" else "error"
        message = ToolMessage(text, tool_call_id=tool_call_id, name=name, status=status,
                              id=f"tm-{tool_call_id}")
        return Command(update={"messages": [message]})
    if kind == "edit":
        args = dict(decision["edited_action"]["args"])
    result = ToolMessage(run_tool(name, args), tool_call_id=tool_call_id, name=name,
                         id=f"tm-{tool_call_id}")
    record = {"tool": name, "args": args, "decision": kind}
    return Command(update={"messages": [result], "executed": [record]})


@tool
def send_email(
    to: str, subject: str, body: str, tool_call_id: Annotated[str, InjectedToolCallId]
) -> Command[Any]:
    """Send an email to a customer."""
    return _gated_call("send_email", {"to": to, "subject": subject, "body": body}, tool_call_id)


@tool
def delete_records(
    table: str, where: str, tool_call_id: Annotated[str, InjectedToolCallId]
) -> Command[Any]:
    """Delete the rows of `table` matching `where`."""
    return _gated_call("delete_records", {"table": table, "where": where}, tool_call_id)


def _model(state: AgentState) -> dict[str, Any]:
    """A scripted model: two tool calls for a task, a summary once the tools answered."""
    messages = state["messages"]
    message_id = f"ai-{len(messages):04d}"
    task_ = state.get("task")
    if isinstance(messages[-1], ToolMessage):
        done = sum(1 for m in messages if isinstance(m, ToolMessage) and m.status != "error")
        return {"messages": [AIMessage(f"Finished: {done} tool call(s) ran.", id=message_id)]}
    if not task_:
        return {"messages": [AIMessage("Support is open 24/7.", id=message_id)]}
    calls = [
        ToolCall(name="send_email", args=dict(task_["email"]), id=f"call-{message_id}-0"),
        ToolCall(name="delete_records", args=dict(task_["purge"]), id=f"call-{message_id}-1"),
    ]
    text = "I'll email the new key and purge the old sessions."
    return {"messages": [AIMessage(text, tool_calls=calls, id=message_id)]}


def _dispatch(state: AgentState) -> list[Send] | Literal["__end__"]:
    """Each tool call to `tools` on its own, as `create_agent` sends them."""
    last = state["messages"][-1]
    if isinstance(last, AIMessage) and last.tool_calls:
        return [Send("tools", [call]) for call in last.tool_calls]
    return END_ROUTE


def build_tool_agent(checkpointer: Saver = None) -> CompiledGraph:
    """agent -> Send("tools", [call]) per tool call (each tool interrupts) -> agent."""
    graph = StateGraph(AgentState)
    graph.add_node("agent", _model)
    graph.add_node("tools", ToolNode([send_email, delete_records]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", _dispatch, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile(checkpointer=checkpointer, name="tool_agent")
