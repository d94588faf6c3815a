"""Deterministic demo graphs, one per pause form and payload convention the console handles.

| name | pause | convention | gated side effect (state key) |
|---|---|---|---|
| `email` | `interrupt_before=["send_email"]` | breakpoint | `send_email` (`sent`) |
| `tutorial` | `interrupt()` in `approval` | raw | `execute` (`executed`) |
| `hitl_agent` | `interrupt()` in `human_review` | langchain-hitl | tools (`executed`) |
| `hitl_agent_js` | same, camelCase payload | langchain-hitl | tools (`executed`) |
| `inbox` | `interrupt([HumanInterrupt])` | agent-inbox | `review_transfer` (`transfers`) |
| `schema` | `interrupt(..., response_schema=...)` | schema | `choose_refund` (`refunds`) |
| `subgraph` | `interrupt()` inside subgraph node `compliance` | raw | `open_account` |
| `parallel` | two `interrupt()` in one step | raw | each approver (`released`) |
| `after` | `interrupt_after=["prepare_payment"]` | breakpoint | `pay` (`payments`) |
| `map_reduce` | `interrupt()` in each `Send` branch | raw | each `approve_item` (`reimbursed`) |
| `functional` | `interrupt()` in an `@entrypoint` | raw | `create_vendor_account` task |
| `functional_task` | `interrupt()` in a `@task` | raw | `sign_renewal` task (`renewals`) |
| `tool_agent` | `interrupt()` in each tool, a `Send` per call | tool-approval | `executed` |

The last four live in `task_graphs.py` (their pauses are PUSH tasks or entrypoints).

Each name is also a module attribute holding the graph compiled *without* a checkpointer,
so `--graph email=console.demo.graphs:email` works and the console attaches its own with
`graph.copy(update={"checkpointer": saver})`. Nodes are pure functions of state: no
clocks, no randomness, no network.

Invalid answers, two behaviours on purpose:
- raw and schema graphs re-ask: the node calls `interrupt()` again with the same payload
  plus an `"error"` key, so the thread pauses again at the *same* checkpoint with a *new*
  interrupt id (the old interrupt row is replaced).
- `tool_agent` lets LangGraph check the answer against its `response_schema`: an invalid
  one fails the run with a `ValidationError` before it is stored, and the pause stays.
- `hitl_agent`/`hitl_agent_js`/`inbox` raise `ValueError`, like LangChain's middleware.
  That poisons the pause: LangGraph has already stored the bad value as the task's
  `__resume__` write and replays it on every later resume, so the thread still looks
  pending but can never be answered. The console must validate before it submits.
"""

import operator
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AIMessage, ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Interrupt, interrupt

from console.demo.gates import (
    ALLOWED_DECISIONS,
    APPROVED,
    END_ROUTE,
    REJECTED_PREFIX,
    AgentState,
    CompiledGraph,
    ConventionName,
    GraphBuilder,
    Kind,
    Saver,
    ask_until_valid,
    raw_decision,
    run_tool,
    tool_description,
)


def demo_config(
    graph_name: str, thread_id: str, *, requested_by: str | None = None
) -> RunnableConfig:
    """The run config every demo run uses: `graph_id` (and the requester) land in metadata."""
    metadata: dict[str, Any] = {"graph_id": graph_name}
    if requested_by is not None:
        metadata["requested_by"] = requested_by  # four-eyes policies read this
    return {"configurable": {"thread_id": thread_id}, "metadata": metadata}


# --- email: a static breakpoint before the side effect -------------------------------


class EmailState(TypedDict):
    request: str
    customer: dict[str, Any]
    headers: dict[str, str]
    created_at: datetime
    tags: set[str]
    attachments: list[str]  # no reducer: an update replaces the whole list
    draft: dict[str, Any]
    sent: Annotated[list[dict[str, Any]], operator.add]


def _draft(state: EmailState) -> dict[str, Any]:
    customer = state["customer"]
    body = (
        f"Dear {customer['name']},\n\n{state['request']} is attached.\n"
        f"Account {customer['account']['id']}.\n"
    )
    return {"draft": {"to": customer["email"], "subject": state["request"], "body": body}}


def _send_email(state: EmailState) -> dict[str, Any]:
    draft = state["draft"]
    message_id = f"<{zlib.crc32(draft['subject'].encode()):08x}@mail.demo>"
    return {"sent": [{**draft, "message_id": message_id, "attachments": state["attachments"]}]}


def build_email(checkpointer: Saver = None) -> CompiledGraph:
    """draft -> send_email, paused before `send_email` by a static breakpoint."""
    graph = StateGraph(EmailState)
    graph.add_node("draft", _draft)
    graph.add_node("send_email", _send_email)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "send_email")
    graph.add_edge("send_email", END)
    return graph.compile(checkpointer=checkpointer, interrupt_before=["send_email"], name="email")


# --- tutorial: the "approved" / "rejected: reason" contract ----------------------------


class TutorialState(TypedDict):
    task: str
    requested_at: datetime
    budget: Decimal
    credentials: dict[str, str]
    plan: list[str]  # no reducer
    executed: Annotated[list[str], operator.add]
    status: str
    rejection_reason: str | None


def _plan(state: TutorialState) -> dict[str, Any]:
    task = state["task"]
    steps = [f"announce: {task}", f"dry run: {task}", f"apply: {task}", "verify and report"]
    return {"plan": steps, "status": "planned"}


def _approval(state: TutorialState) -> Command[Literal["execute", "__end__"]]:
    payload = {"plan": state["plan"], "question": "Approve this plan?"}
    approved, reason = ask_until_valid(payload, raw_decision)
    if approved:
        return Command(goto="execute", update={"status": "approved"})
    return Command(goto=END_ROUTE, update={"status": "rejected", "rejection_reason": reason})


def _execute(state: TutorialState) -> dict[str, Any]:
    return {"executed": [f"done: {step}" for step in state["plan"]], "status": "executed"}


def build_tutorial(checkpointer: Saver = None) -> CompiledGraph:
    """plan -> approval (inline interrupt) -> execute, or END with the rejection reason."""
    graph = StateGraph(TutorialState)
    graph.add_node("plan", _plan)
    graph.add_node("approval", _approval)
    graph.add_node("execute", _execute)
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "approval")
    graph.add_edge("execute", END)
    return graph.compile(checkpointer=checkpointer, name="tutorial")


# --- hitl_agent: LangChain HumanInTheLoopMiddleware's payload and decisions -------------

def _agent(state: AgentState) -> dict[str, Any]:
    """A scripted "model": two tool calls when there is a task, a plain answer otherwise."""
    message_id = f"ai-{len(state['messages']):04d}"
    task = state.get("task")
    if not task:
        return {"messages": [AIMessage("Support is open 24/7.", id=message_id)]}
    calls = [
        ToolCall(name="send_email", args=dict(task["email"]), id=f"call-{message_id}-0"),
        ToolCall(name="delete_records", args=dict(task["purge"]), id=f"call-{message_id}-1"),
    ]
    text = "I'll email the new key and purge the old sessions."
    return {"messages": [AIMessage(text, tool_calls=calls, id=message_id)]}


def _route_agent(state: AgentState) -> Literal["human_review", "__end__"]:
    last = state["messages"][-1]
    return "human_review" if isinstance(last, AIMessage) and last.tool_calls else END_ROUTE


def _action_request(call: ToolCall) -> dict[str, Any]:
    description = tool_description(call["name"], call["args"])
    return {"name": call["name"], "args": call["args"], "description": description}


def _hitl_payload(calls: Sequence[ToolCall], js: bool) -> dict[str, Any]:
    requests = [_action_request(call) for call in calls]
    if js:  # the spelling langchainjs' humanInTheLoopMiddleware uses
        configs = [
            {"actionName": c["name"], "allowedDecisions": ALLOWED_DECISIONS[c["name"]]}
            for c in calls
        ]
        return {"actionRequests": requests, "reviewConfigs": configs}
    configs = [
        {"action_name": c["name"], "allowed_decisions": ALLOWED_DECISIONS[c["name"]]} for c in calls
    ]
    return {"action_requests": requests, "review_configs": configs}


def _decisions(response: Any, count: int) -> list[Mapping[str, Any]]:
    if not isinstance(response, Mapping) or not isinstance(response.get("decisions"), list):
        raise ValueError(f'expected {{"decisions": [...]}}, got {response!r}')
    decisions: list[Mapping[str, Any]] = response["decisions"]
    if len(decisions) != count:
        raise ValueError(f"expected {count} decisions, one per action, got {len(decisions)}")
    return decisions


def _review_one(
    call: ToolCall, decision: Mapping[str, Any]
) -> tuple[ToolCall, ToolMessage, dict[str, Any] | None]:
    """Apply one decision: (the tool call as it stands now, its ToolMessage, execution record)."""
    kind = decision.get("type")
    if kind not in ALLOWED_DECISIONS[call["name"]]:
        raise ValueError(f"decision {kind!r} is not allowed for {call['name']}")
    call_id = call["id"] or call["name"]
    if kind in ("reject", "respond"):
        default = "Rejected by reviewer" if kind == "reject" else ""
        text = str(decision.get("message") or default)
        status: Literal["success", "error"] = "error" if kind == "reject" else "success"
        return (
            call,
            ToolMessage(text, tool_call_id=call_id, status=status, id=f"tm-{call_id}"),
            None,
        )
    if kind == "edit":
        edited = decision.get("edited_action") or decision.get("editedAction") or {}
        call = ToolCall(name=edited["name"], args=dict(edited["args"]), id=call["id"])
    result = run_tool(call["name"], call["args"])
    record = {"tool": call["name"], "args": dict(call["args"]), "decision": kind}
    return call, ToolMessage(result, tool_call_id=call_id, id=f"tm-{call_id}"), record


def _human_review(state: AgentState, js: bool) -> dict[str, Any]:
    ai = state["messages"][-1]
    if not isinstance(ai, AIMessage):
        raise ValueError("human_review expects the agent's tool calls last")
    response = interrupt(_hitl_payload(ai.tool_calls, js))
    reviewed = [
        _review_one(call, decision)
        for call, decision in zip(
            ai.tool_calls, _decisions(response, len(ai.tool_calls)), strict=True
        )
    ]
    calls = [call for call, _, _ in reviewed]
    # Like the middleware: an edit rewrites the AI message's tool call (same message id).
    revised = ai.model_copy(update={"tool_calls": calls})
    return {
        "messages": [revised, *(message for _, message, _ in reviewed)],
        "executed": [record for _, _, record in reviewed if record is not None],
        "todo": [],
    }


def _summarize(state: AgentState) -> dict[str, Any]:
    done = sum(1 for m in state["messages"] if isinstance(m, ToolMessage) and m.status != "error")
    text = f"Finished: {done} tool result(s) returned."
    return {"messages": [AIMessage(text, id=f"ai-{len(state['messages']):04d}")]}


def _build_agent(checkpointer: Saver, js: bool, name: str) -> CompiledGraph:
    def human_review(state: AgentState) -> dict[str, Any]:
        return _human_review(state, js)

    graph = StateGraph(AgentState)
    graph.add_node("agent", _agent)
    graph.add_node("human_review", human_review)
    graph.add_node("summarize", _summarize)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", _route_agent)
    graph.add_edge("human_review", "summarize")
    graph.add_edge("summarize", END)
    return graph.compile(checkpointer=checkpointer, name=name)


def build_hitl_agent(checkpointer: Saver = None) -> CompiledGraph:
    """agent -> human_review (HumanInTheLoopMiddleware payload, two tool calls) -> summarize."""
    return _build_agent(checkpointer, js=False, name="hitl_agent")


def build_hitl_agent_js(checkpointer: Saver = None) -> CompiledGraph:
    """`hitl_agent` with the JS spelling: actionRequests / reviewConfigs / allowedDecisions."""
    return _build_agent(checkpointer, js=True, name="hitl_agent_js")


# --- inbox: Agent Inbox HumanInterrupt / HumanResponse ---------------------------------


class InboxState(TypedDict):
    transfer: dict[str, Any]
    limits: dict[str, Decimal]
    credentials: dict[str, str]
    notes: list[str]  # no reducer
    transfers: Annotated[list[dict[str, Any]], operator.add]
    status: str


def _inbox_request(transfer: Mapping[str, Any]) -> dict[str, Any]:
    args = {
        "amount": str(transfer["amount"]),  # a string, as payment APIs do, to keep cents exact
        "currency": transfer["currency"],
        "to_iban": transfer["to"]["iban"],
        "reference": transfer["reference"],
    }
    large = transfer["amount"] >= 100_000
    return {
        "action_request": {"action": "wire_transfer", "args": args},
        # Large transfers must be answered: they cannot be silently ignored.
        "config": {
            "allow_accept": True,
            "allow_edit": True,
            "allow_respond": True,
            "allow_ignore": not large,
        },
        "description": f"Wire {args['amount']} {args['currency']} to {transfer['to']['name']}?",
    }


def _inbox_response(response: Any, config: Mapping[str, bool]) -> Mapping[str, Any]:
    if not isinstance(response, list) or len(response) != 1 or not isinstance(response[0], Mapping):
        raise ValueError(f"expected a list of one HumanResponse, got {response!r}")
    reply: Mapping[str, Any] = response[0]
    allowed = {"accept", "edit", "response", "ignore"}
    kind = reply.get("type")
    if kind not in allowed or not config.get(f"allow_{'respond' if kind == 'response' else kind}"):
        raise ValueError(f"response type {kind!r} is not allowed here")
    return reply


def _edited_transfer(transfer: Mapping[str, Any], args: Mapping[str, Any]) -> dict[str, Any]:
    try:
        amount = Decimal(str(args.get("amount", transfer["amount"])))
    except InvalidOperation as exc:
        raise ValueError(f"bad amount {args.get('amount')!r}") from exc
    to = {**transfer["to"], "iban": args.get("to_iban", transfer["to"]["iban"])}
    return {
        **transfer,
        "amount": amount,
        "currency": args.get("currency", transfer["currency"]),
        "reference": args.get("reference", transfer["reference"]),
        "to": to,
    }


def _wire(transfer: Mapping[str, Any], how: str) -> dict[str, Any]:
    record = {
        "amount": transfer["amount"],
        "currency": transfer["currency"],
        "to_iban": transfer["to"]["iban"],
        "reference": transfer["reference"],
        "how": how,
    }
    return {"transfers": [record], "status": how}


def _review_transfer(state: InboxState) -> dict[str, Any]:
    transfer = state["transfer"]
    if transfer["amount"] < state["limits"]["auto_approve_below"]:
        return _wire(transfer, "auto-approved")
    request = _inbox_request(transfer)
    reply = _inbox_response(interrupt([request]), request["config"])
    if reply["type"] == "accept":
        return _wire(transfer, "accepted")
    if reply["type"] == "edit":
        edited = reply.get("args")
        if not isinstance(edited, Mapping) or not isinstance(edited.get("args"), Mapping):
            raise ValueError(f"an edit needs args: {{action, args}}, got {edited!r}")
        return _wire(_edited_transfer(transfer, edited["args"]), "edited")
    if reply["type"] == "response":
        return {"notes": [*state["notes"], f"reviewer: {reply.get('args')}"], "status": "returned"}
    return {"status": "ignored"}


def build_inbox(checkpointer: Saver = None) -> CompiledGraph:
    """review_transfer: an Agent Inbox interrupt for transfers above the auto-approval limit."""
    graph = StateGraph(InboxState)
    graph.add_node("review_transfer", _review_transfer)
    graph.add_edge(START, "review_transfer")
    graph.add_edge("review_transfer", END)
    return graph.compile(checkpointer=checkpointer, name="inbox")


# --- schema: interrupt(..., response_schema=JSON schema) -------------------------------

REFUND_CURRENCIES = ["EUR", "USD", "GBP", "CHF"]
REFUND_SCHEMA: dict[str, Any] = {
    "title": "Refund",
    "type": "object",
    "properties": {
        "amount": {"type": "number", "minimum": 0, "maximum": 500, "description": "0 declines"},
        "currency": {"type": "string", "enum": REFUND_CURRENCIES, "default": "EUR"},
        "note": {"type": "string", "description": "shown to the customer"},
    },
    "required": ["amount"],
    "additionalProperties": False,
}


class RefundState(TypedDict):
    refund_request: dict[str, Any]
    history: list[dict[str, Any]]  # no reducer
    refunds: Annotated[list[dict[str, Any]], operator.add]
    status: str


def _check_refund(answer: Any) -> dict[str, Any]:
    """Validate against REFUND_SCHEMA by hand: LangGraph does not validate dict schemas."""
    if not isinstance(answer, Mapping) or set(answer) - set(REFUND_SCHEMA["properties"]):
        raise ValueError(f"expected an object with amount/currency/note, got {answer!r}")
    amount = answer.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float | Decimal):
        raise ValueError(f"amount must be a number, got {amount!r}")
    if not 0 <= amount <= 500:
        raise ValueError(f"amount must be between 0 and 500, got {amount}")
    if answer.get("currency", "EUR") not in REFUND_CURRENCIES:
        raise ValueError(f"currency must be one of {REFUND_CURRENCIES}")
    if not isinstance(answer.get("note", ""), str):
        raise ValueError("note must be a string")
    return dict(answer)


def _choose_refund(state: RefundState) -> dict[str, Any]:
    request = state["refund_request"]
    value = {
        "question": "Choose refund amount",
        "order_id": request["order_id"],
        "amount_paid": request["amount_paid"],
        "reason": request["reason"],
    }
    answer = ask_until_valid(value, _check_refund, REFUND_SCHEMA)
    amount = Decimal(str(answer["amount"]))
    event = {"event": f"refund decided: {amount}", "order_id": request["order_id"]}
    history = [*state["history"], event]
    if amount == 0:
        return {"status": "declined", "history": history}
    refund = {
        "order_id": request["order_id"],
        "amount": amount,
        "currency": answer.get("currency", "EUR"),
        "note": answer.get("note", ""),
    }
    return {"refunds": [refund], "status": "refunded", "history": history}


def build_schema(checkpointer: Saver = None) -> CompiledGraph:
    """choose_refund: an interrupt whose resume value is described by a JSON schema."""
    graph = StateGraph(RefundState)
    graph.add_node("choose_refund", _choose_refund)
    graph.add_edge(START, "choose_refund")
    graph.add_edge("choose_refund", END)
    return graph.compile(checkpointer=checkpointer, name="schema")


# --- subgraph: the interrupt happens inside a compiled subgraph node -------------------


class KycState(TypedDict):
    application: dict[str, Any]
    risk: dict[str, Any]
    compliance_decision: str | None


class AccountState(KycState):
    accounts_opened: Annotated[list[dict[str, Any]], operator.add]
    status: str


def _screen(state: KycState) -> dict[str, Any]:
    applicant = state["application"]["applicant"]
    score = (len(applicant["name"]) * 37 + int(state["application"]["initial_deposit"])) % 100
    flags = ["high deposit"] if state["application"]["initial_deposit"] > 50_000 else []
    return {"risk": {"score": score, "flags": flags, "pep_match": score > 90}}


def _officer_review(state: KycState) -> dict[str, Any]:
    name = state["application"]["applicant"]["name"]
    payload = {"question": f"Approve KYC exception for {name}?", "risk": state["risk"]}
    approved, reason = ask_until_valid(payload, raw_decision)
    return {"compliance_decision": APPROVED if approved else f"{REJECTED_PREFIX}{reason}"}


def _build_kyc() -> CompiledGraph:
    graph = StateGraph(KycState)
    graph.add_node("screen", _screen)
    graph.add_node("officer_review", _officer_review)
    graph.add_edge(START, "screen")
    graph.add_edge("screen", "officer_review")
    graph.add_edge("officer_review", END)
    # No checkpointer of its own: it inherits the parent's and stores under its namespace.
    return graph.compile(name="kyc")


def _intake(state: AccountState) -> dict[str, Any]:
    return {"status": "screening"}


def _open_account(state: AccountState) -> dict[str, Any]:
    if state["compliance_decision"] != APPROVED:
        return {"status": "declined"}
    applicant = state["application"]["applicant"]
    account = {
        "holder": applicant["name"],
        "country": state["application"]["country"],
        "opened_for": applicant["email"],
    }
    return {"accounts_opened": [account], "status": "opened"}


def build_subgraph(checkpointer: Saver = None) -> CompiledGraph:
    """intake -> compliance (a compiled subgraph that interrupts) -> open_account."""
    graph = StateGraph(AccountState)
    graph.add_node("intake", _intake)
    graph.add_node("compliance", _build_kyc())
    graph.add_node("open_account", _open_account)
    graph.add_edge(START, "intake")
    graph.add_edge("intake", "compliance")
    graph.add_edge("compliance", "open_account")
    graph.add_edge("open_account", END)
    return graph.compile(checkpointer=checkpointer, name="subgraph")


# --- parallel: two interrupts pending in one step -------------------------------------


class PurchaseState(TypedDict):
    purchase: dict[str, Any]
    approvals: Annotated[list[dict[str, Any]], operator.add]
    released: Annotated[list[str], operator.add]
    budget_lines: list[str]  # no reducer
    status: str


def _split(state: PurchaseState) -> dict[str, Any]:
    return {"status": "awaiting approvals"}


def _approve(state: PurchaseState, role: str) -> dict[str, Any]:
    p = state["purchase"]
    question = f"{role.title()} approval: {p['item']} from {p['vendor']}?"
    payload = {"question": question, "role": role, "amount": p["amount"], "currency": p["currency"]}
    approved, reason = ask_until_valid(payload, raw_decision)
    decision = {"role": role, "decision": "approved" if approved else "rejected", "reason": reason}
    return {"approvals": [decision], "released": [f"{role}-signoff"] if approved else []}


def _approve_finance(state: PurchaseState) -> dict[str, Any]:
    return _approve(state, "finance")


def _approve_security(state: PurchaseState) -> dict[str, Any]:
    return _approve(state, "security")


def _finalize(state: PurchaseState) -> dict[str, Any]:
    ok = all(a["decision"] == "approved" for a in state["approvals"])
    return {"status": "purchase approved" if ok else "purchase rejected"}


def build_parallel(checkpointer: Saver = None) -> CompiledGraph:
    """split -> (approve_finance | approve_security), both interrupting -> finalize."""
    graph = StateGraph(PurchaseState)
    graph.add_node("split", _split)
    graph.add_node("approve_finance", _approve_finance)
    graph.add_node("approve_security", _approve_security)
    graph.add_node("finalize", _finalize)
    graph.add_edge(START, "split")
    graph.add_edge("split", "approve_finance")
    graph.add_edge("split", "approve_security")
    graph.add_edge(["approve_finance", "approve_security"], "finalize")
    graph.add_edge("finalize", END)
    return graph.compile(checkpointer=checkpointer, name="parallel")


# --- after: a static breakpoint after the preparing node ------------------------------


class PaymentState(TypedDict):
    invoice: dict[str, Any]
    bank_auth: dict[str, str]
    payment: dict[str, Any]
    payments: Annotated[list[dict[str, Any]], operator.add]
    audit: list[str]  # no reducer


def _prepare_payment(state: PaymentState) -> dict[str, Any]:
    invoice = state["invoice"]
    payment = {
        "to_iban": invoice["iban"],
        "amount": invoice["amount"],
        "currency": invoice["currency"],
        "reference": invoice["number"],
        "value_date": invoice["due"] - timedelta(days=1),
    }
    return {"payment": payment, "audit": [*state["audit"], "payment prepared"]}


def _pay(state: PaymentState) -> dict[str, Any]:
    return {"payments": [dict(state["payment"])], "audit": [*state["audit"], "paid"]}


def build_after(checkpointer: Saver = None) -> CompiledGraph:
    """prepare_payment -> pay, paused after `prepare_payment` by a static breakpoint."""
    graph = StateGraph(PaymentState)
    graph.add_node("prepare_payment", _prepare_payment)
    graph.add_node("pay", _pay)
    graph.add_edge(START, "prepare_payment")
    graph.add_edge("prepare_payment", "pay")
    graph.add_edge("pay", END)
    return graph.compile(
        checkpointer=checkpointer, interrupt_after=["prepare_payment"], name="after"
    )


# --- registry -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoGraphInfo:
    """How a demo graph pauses, so seeds and tests know what the console should report."""

    kind: Kind
    convention: ConventionName
    nodes: tuple[str, ...]  # the distinct names in `StateSnapshot.next` at the pause, sorted
    effect: str  # the state key the gated side effect appends to


def _task_graph(name: str) -> GraphBuilder:
    """A builder of `task_graphs`, imported when first called: it brings in
    `langgraph.prebuilt` and pydantic, which the other demo graphs do not need."""

    def build(checkpointer: Any = None) -> Any:
        from console.demo import task_graphs

        return getattr(task_graphs, name)(checkpointer)

    build.__name__ = build.__qualname__ = name
    return build


DEMO_GRAPHS: dict[str, GraphBuilder] = {
    "email": build_email,
    "tutorial": build_tutorial,
    "hitl_agent": build_hitl_agent,
    "hitl_agent_js": build_hitl_agent_js,
    "inbox": build_inbox,
    "schema": build_schema,
    "subgraph": build_subgraph,
    "parallel": build_parallel,
    "after": build_after,
    "map_reduce": _task_graph("build_map_reduce"),
    "functional": _task_graph("build_functional"),
    "functional_task": _task_graph("build_functional_task"),
    "tool_agent": _task_graph("build_tool_agent"),
}
"""Graph builders by name: `DEMO_GRAPHS[name](checkpointer)` compiles that graph."""

DEMO_INFO: dict[str, DemoGraphInfo] = {
    "email": DemoGraphInfo("before", "breakpoint", ("send_email",), "sent"),
    "tutorial": DemoGraphInfo("interrupt", "raw", ("approval",), "executed"),
    "hitl_agent": DemoGraphInfo("interrupt", "langchain-hitl", ("human_review",), "executed"),
    "hitl_agent_js": DemoGraphInfo("interrupt", "langchain-hitl", ("human_review",), "executed"),
    "inbox": DemoGraphInfo("interrupt", "agent-inbox", ("review_transfer",), "transfers"),
    "schema": DemoGraphInfo("interrupt", "schema", ("choose_refund",), "refunds"),
    "subgraph": DemoGraphInfo("interrupt", "raw", ("compliance",), "accounts_opened"),
    "parallel": DemoGraphInfo(
        "interrupt", "raw", ("approve_finance", "approve_security"), "released"
    ),
    "after": DemoGraphInfo("after", "breakpoint", ("pay",), "payments"),
    "map_reduce": DemoGraphInfo("interrupt", "raw", ("approve_item",), "reimbursed"),
    "functional": DemoGraphInfo("interrupt", "raw", ("vendor_onboarding",), "vendors_created"),
    "functional_task": DemoGraphInfo("interrupt", "raw", ("contract_renewal",), "renewals"),
    "tool_agent": DemoGraphInfo("interrupt", "tool-approval", ("tools",), "executed"),
}
"""Pause form, payload convention, pending nodes and side-effect key of each demo graph."""


def __getattr__(name: str) -> Any:
    """`--graph NAME=console.demo.graphs:NAME`: that demo graph, compiled without a
    checkpointer when first asked for (not all thirteen at import: a decision loading one
    paid ~100 ms for the others)."""
    if name in DEMO_GRAPHS:
        graph = DEMO_GRAPHS[name](None)
        globals()[name] = graph
        return graph
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- answers ---------------------------------------------------------------------------


def _hitl_count(value: Mapping[str, Any]) -> int:
    return len(value.get("action_requests") or value.get("actionRequests") or [])


def _inbox_answer(value: Any, approve: bool, reason: str) -> list[dict[str, Any]]:
    config = value[0]["config"]
    if approve:
        return [{"type": "accept", "args": None}]
    if config.get("allow_ignore"):
        return [{"type": "ignore", "args": None}]
    return [{"type": "response", "args": reason}]


def _answer_one(graph_name: str, value: Any, approve: bool, reason: str) -> Any:
    convention = DEMO_INFO[graph_name].convention
    if convention == "langchain-hitl":
        decision = {"type": "approve"} if approve else {"type": "reject", "message": reason}
        return {"decisions": [decision] * _hitl_count(value)}
    if convention == "agent-inbox":
        return _inbox_answer(value, approve, reason)
    if convention == "tool-approval":
        return {"type": "approve"} if approve else {"type": "reject", "message": reason}
    if convention == "schema":
        if not approve:
            return {"amount": 0, "note": reason}
        return {"amount": float(min(value["amount_paid"], Decimal(500))), "currency": "EUR"}
    return APPROVED if approve else f"{REJECTED_PREFIX}{reason}"


def demo_answer(
    graph_name: str,
    interrupts: Sequence[Interrupt],
    *,
    approve: bool = True,
    reason: str = "not approved in demo",
) -> Command[Any] | None:
    """The input that resumes a paused demo thread: pass it to `graph.ainvoke(..., config)`.

    Inline interrupts get `Command(resume=...)` in the graph's convention (keyed by
    interrupt id when several are pending). Static breakpoints resume with `None`; they
    have no resume value to reject with, so `approve=False` raises `ValueError` for them.
    """
    if DEMO_INFO[graph_name].convention == "breakpoint":
        if not approve:
            raise ValueError(f"{graph_name} pauses at a static breakpoint: nothing to reject with")
        return None
    if not interrupts:
        raise ValueError(f"{graph_name}: no pending interrupts to answer")
    answers = {i.id: _answer_one(graph_name, i.value, approve, reason) for i in interrupts}
    if len(answers) == 1:
        return Command(resume=next(iter(answers.values())))
    return Command(resume=answers)
