"""Fake but realistic inputs for the demo graphs, derived from a seeded `random.Random`.

The data is deliberately awkward for a console: timezone-aware datetimes, `Decimal`
amounts, sets, nested dicts, long message histories, and secrets (keys named
`api_key`/`password`/`authorization`, bearer tokens, JWTs and `sk-...` keys inside free
text, PEM keys, cloud access keys, card numbers) that redaction must hide. A few
strings also carry Rich markup and ANSI escapes that the console must show inert.
None of the secrets are real: they are random strings shaped like real ones.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage

USERS = ("alice", "bob", "carol", "dmitri", "eve", "farah", "gustavo", "hana")
CUSTOMERS = (
    ("Ada Lovelace", "Analytical Engines Ltd"),
    ("Grace Hopper", "Cobol Systems Inc"),
    ("Alan Turing", "Bletchley Computing"),
    ("Katherine Johnson", "Orbital Mechanics LLC"),
    ("Linus Svensson", "Nordic Kernels AB"),
    ("Margaret Hamilton", "Apollo Guidance Co"),
    ("Tim Berners", "Hypertext Holdings"),
    ("Radia Perlman", "Spanning Trees GmbH"),
)
CURRENCIES = ("EUR", "USD", "GBP", "CHF")
# Shown raw, these would restyle or hijack the terminal; the console must render them inert.
HOSTILE_TEXT = (
    "[bold red]URGENT[/bold red] \x1b[31moverdue\x1b[0m "
    "\x1b]8;;https://evil.example\x1b\\click here\x1b]8;;\x1b\\"
)

_ALNUM = string.ascii_letters + string.digits
_B64URL = _ALNUM + "-_"


def _token(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _b64url(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def fake_jwt(rng: random.Random, subject: str) -> str:
    """A JWT-shaped token (real base64url header and claims, random signature)."""
    header = _b64url({"alg": "HS256", "typ": "JWT"})
    claims = _b64url({"sub": subject, "iat": 1_700_000_000 + rng.randrange(10**7)})
    return f"{header}.{claims}.{_token(rng, _B64URL, 43)}"


def fake_sk_key(rng: random.Random) -> str:
    """An OpenAI-style secret key."""
    return "sk-" + _token(rng, _ALNUM, 48)


def fake_aws_key(rng: random.Random) -> str:
    """An AWS access key id."""
    return "AKIA" + _token(rng, string.ascii_uppercase + string.digits, 16)


def fake_password(rng: random.Random) -> str:
    """A password someone pasted into state."""
    return _token(rng, _ALNUM + "!#%&*", 14)


def fake_pem(rng: random.Random) -> str:
    """A PEM private key block (random body)."""
    body = "\n".join(_token(rng, _ALNUM + "+/", 64) for _ in range(4))
    return f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----"


def fake_iban(rng: random.Random) -> str:
    """A German-looking IBAN."""
    return "DE" + _token(rng, string.digits, 20)


def _customer(rng: random.Random) -> dict[str, Any]:
    name, company = rng.choice(CUSTOMERS)
    login = name.split()[0].lower()
    return {
        "name": name,
        "company": company,
        "email": f"{login}@{company.split()[0].lower()}.example",
        "account": {
            "id": f"ACC-{rng.randrange(10**6):06d}",
            "tier": rng.choice(("free", "pro", "enterprise")),
            "api_key": fake_sk_key(rng),
            "password": fake_password(rng),
        },
    }


def email_input(rng: random.Random, at: datetime, index: int) -> dict[str, Any]:
    """Input for the `email` graph."""
    customer = _customer(rng)
    subject = f"Invoice {rng.randrange(10**5):05d} for {customer['company']}"
    if index % 4 == 1:  # some, not all: a hostile subject must not hide the others
        subject = f"{HOSTILE_TEXT} {subject}"
    return {
        "request": subject,
        "customer": customer,
        "headers": {"authorization": f"Bearer {fake_jwt(rng, customer['email'])}"},
        "created_at": at,
        "tags": {"billing", rng.choice(("overdue", "reminder", "first-notice"))},
        "attachments": [f"invoice-{index:04d}.pdf", "terms.pdf"],
        "sent": [],
    }


def tutorial_input(rng: random.Random, at: datetime, index: int) -> dict[str, Any]:
    """Input for the `tutorial` graph."""
    task = rng.choice(
        (
            "Rotate the production database credentials",
            "Migrate the billing service to the new cluster",
            "Purge stale customer sessions",
            "Re-index the search cluster",
        )
    )
    return {
        "task": task,
        "requested_at": at,
        "budget": Decimal(rng.randrange(100, 5000)) / Decimal(4),
        "credentials": {"api_key": fake_sk_key(rng), "aws_access_key_id": fake_aws_key(rng)},
        "plan": [],
        "executed": [],
        "status": "new",
        "rejection_reason": None,
    }


def _history(rng: random.Random, at: datetime, turns: int) -> list[AnyMessage]:
    """A plausible earlier conversation, `turns` exchanges long, with stable message ids."""
    messages: list[AnyMessage] = []
    for turn in range(turns):
        order = f"ORD-{rng.randrange(10**6):06d}"
        messages.append(HumanMessage(f"Where is order {order}?", id=f"h{turn:03d}-q"))
        if turn % 3 == 0:
            call = {"name": "lookup_order", "args": {"order_id": order}, "id": f"call_h{turn}"}
            messages.append(AIMessage("", tool_calls=[call], id=f"h{turn:03d}-c"))
            stamp = (at - timedelta(hours=turns - turn)).isoformat()
            result = {"order_id": order, "status": "shipped", "updated": stamp}
            messages.append(
                ToolMessage(json.dumps(result), tool_call_id=f"call_h{turn}", id=f"h{turn:03d}-t")
            )
        messages.append(AIMessage(f"Order {order} has shipped.", id=f"h{turn:03d}-a"))
    return messages


def hitl_agent_input(
    rng: random.Random, at: datetime, index: int, *, needs_tools: bool = True
) -> dict[str, Any]:
    """Input for `hitl_agent`/`hitl_agent_js`; `needs_tools=False` gives a run that never pauses."""
    customer = _customer(rng)
    # Every other thread carries a long history (50+ messages) for list rendering and diffs.
    history = _history(rng, at, rng.randrange(22, 45)) if index % 2 == 0 else []
    token = fake_jwt(rng, customer["email"])
    key = fake_sk_key(rng)
    ask = (
        f"Send {customer['name']} their new API key {key} and clean up the old sessions "
        f"for {customer['account']['id']}. My session token is {token} if you need it."
        if needs_tools
        else "What are your support hours?"
    )
    return {
        "messages": [*history, HumanMessage(ask, id=f"ask-{index:04d}")],
        "user": {**customer, "session": {"authorization": f"Bearer {token}"}},
        "task": (
            {
                "email": {
                    "to": customer["email"],
                    "subject": "Your new API key",
                    "body": f"Hello {customer['name']},\n\nyour new key is {key}.\n",
                },
                "purge": {
                    "table": "sessions",
                    "where": f"account_id = '{customer['account']['id']}'",
                },
            }
            if needs_tools
            else None
        ),
        "todo": ["verify identity", "send key", "purge sessions"],
        "labels": {"support", customer["account"]["tier"]},
        "started_at": at,
        "executed": [],
    }


def inbox_input(
    rng: random.Random, at: datetime, index: int, *, small: bool = False
) -> dict[str, Any]:
    """Input for `inbox`; `small=True` is under the auto-approval limit and never pauses."""
    name, company = rng.choice(CUSTOMERS)
    amount = Decimal(rng.randrange(10, 900)) if small else Decimal(rng.randrange(1_500, 250_000))
    return {
        "transfer": {
            "amount": amount + Decimal(rng.randrange(100)) / 100,
            "currency": rng.choice(CURRENCIES),
            "from_account": fake_iban(rng),
            "to": {"name": company, "iban": fake_iban(rng), "bic": "DEUTDEFFXXX"},
            "reference": f"PO-{rng.randrange(10**5):05d} {name}",
            "requested_at": at,
        },
        "limits": {"auto_approve_below": Decimal(1000), "daily": Decimal(500_000)},
        "credentials": {"api_key": fake_sk_key(rng), "private_key": fake_pem(rng)},
        "notes": [f"requested via portal by {rng.choice(USERS)}"],
        "transfers": [],
        "status": "new",
    }


def schema_input(rng: random.Random, at: datetime, index: int) -> dict[str, Any]:
    """Input for the `schema` graph (a refund whose amount the reviewer chooses)."""
    customer = _customer(rng)
    return {
        "refund_request": {
            "order_id": f"ORD-{rng.randrange(10**6):06d}",
            "customer": {**customer, "card": "4111 1111 1111 1111"},
            "amount_paid": Decimal(rng.randrange(1_000, 60_000)) / 100,
            "reason": rng.choice(("damaged in transit", "never arrived", "wrong size")),
            "opened_at": at - timedelta(days=rng.randrange(1, 20)),
        },
        "history": [{"at": at, "event": "ticket opened", "by": customer["email"]}],
        "refunds": [],
        "status": "new",
    }


def subgraph_input(rng: random.Random, at: datetime, index: int) -> dict[str, Any]:
    """Input for the `subgraph` graph (an account opening with a KYC check)."""
    customer = _customer(rng)
    return {
        "application": {
            "applicant": {
                "name": customer["name"],
                "email": customer["email"],
                "password": fake_password(rng),
                "documents": {"passport", "utility_bill"},
            },
            "country": rng.choice(("DE", "FR", "GB", "US", "CH")),
            "initial_deposit": Decimal(rng.randrange(100, 90_000)),
            "submitted_at": at,
        },
        "risk": {},
        "compliance_decision": None,
        "accounts_opened": [],
        "status": "new",
    }


def parallel_input(rng: random.Random, at: datetime, index: int) -> dict[str, Any]:
    """Input for the `parallel` graph (a purchase two approvers must sign off)."""
    return {
        "purchase": {
            "item": rng.choice(("GPU cluster", "SOC2 audit", "Office lease", "Pen test")),
            "vendor": rng.choice(CUSTOMERS)[1],
            "amount": Decimal(rng.randrange(5_000, 400_000)),
            "currency": rng.choice(CURRENCIES),
            "requested_at": at,
            "vendor_portal": {"username": "procurement", "password": fake_password(rng)},
        },
        "approvals": [],
        "released": [],
        "budget_lines": ["capex-2025", "ops"],
        "status": "new",
    }


def after_input(rng: random.Random, at: datetime, index: int) -> dict[str, Any]:
    """Input for the `after` graph (an invoice payment prepared, then paid)."""
    vendor = rng.choice(CUSTOMERS)[1]
    return {
        "invoice": {
            "vendor": vendor,
            "number": f"INV-{rng.randrange(10**6):06d}",
            "amount": Decimal(rng.randrange(10_000, 2_000_000)) / 100,
            "currency": rng.choice(CURRENCIES),
            "iban": fake_iban(rng),
            "due": at + timedelta(days=rng.randrange(1, 30)),
        },
        "bank_auth": {"authorization": f"Bearer {fake_jwt(rng, 'payments-bot')}"},
        "payment": {},
        "payments": [],
        "audit": [f"invoice received from {vendor}"],
    }


def map_reduce_input(rng: random.Random, at: datetime, index: int) -> dict[str, Any]:
    """Input for `map_reduce` (an expense report whose 2-4 lines are approved one by one)."""
    employee = rng.choice(USERS)
    merchants = ("Hotel Adlon", "Lufthansa", "Uber", "Pret A Manger", "Deutsche Bahn",
                 "Apple Store", "AWS Marketplace")
    currency = rng.choice(CURRENCIES)
    items = [
        {
            "line": line,
            "merchant": rng.choice(merchants),
            "amount": Decimal(rng.randrange(500, 90_000)) / 100,
            "currency": currency,
            "category": rng.choice(("travel", "meals", "lodging", "equipment")),
            "receipt": f"receipt-{index:04d}-{line}.pdf",
        }
        for line in range(1, rng.randrange(3, 6))
    ]
    return {
        "report": {
            "id": f"EXP-{rng.randrange(10**6):06d}",
            "employee": employee,
            "submitted_at": at,
            "corporate_card": {"number": "4111 1111 1111 1111", "holder": employee},
        },
        "items": items,
        "reviews": [],
        "reimbursed": [],
        "status": "submitted",
    }


def functional_input(rng: random.Random, at: datetime, index: int) -> dict[str, Any]:
    """Input for `functional` (a vendor to onboard; the entrypoint takes one dict)."""
    name, company = rng.choice(CUSTOMERS)
    return {
        "vendor": {
            "name": company,
            "contact": {"name": name, "portal_password": fake_password(rng)},
            "country": rng.choice(("DE", "FR", "GB", "US", "CH")),
            "annual_spend": Decimal(rng.randrange(10_000, 2_000_000)),
            "bank": {"iban": fake_iban(rng), "bic": "DEUTDEFFXXX"},
            "api_key": fake_sk_key(rng),
        },
        "requested_at": at,
    }


def functional_task_input(rng: random.Random, at: datetime, index: int) -> dict[str, Any]:
    """Input for `functional_task` (a contract up for renewal)."""
    vendor = rng.choice(CUSTOMERS)[1]
    return {
        "id": f"CTR-{rng.randrange(10**5):05d}",
        "vendor": vendor,
        "annual_price": Decimal(rng.randrange(1_000_000, 50_000_000)) / 100,
        "currency": rng.choice(CURRENCIES),
        "uplift_percent": rng.choice((0, 3, 5, 8, 12)),
        "term_months": rng.choice((12, 24, 36)),
        "clauses": sorted(rng.sample(("auto-renewal", "price cap", "SLA 99.9", "exclusivity",
                                      "data residency EU"), 2)),
        "signatory": rng.choice(USERS),
        "expires_at": at + timedelta(days=rng.randrange(5, 60)),
    }


InputMaker = Callable[[random.Random, datetime, int], dict[str, Any]]

INPUTS: dict[str, InputMaker] = {
    "email": email_input,
    "tutorial": tutorial_input,
    "hitl_agent": hitl_agent_input,
    "hitl_agent_js": hitl_agent_input,
    "inbox": inbox_input,
    "schema": schema_input,
    "subgraph": subgraph_input,
    "parallel": parallel_input,
    "after": after_input,
    "map_reduce": map_reduce_input,
    "functional": functional_input,
    "functional_task": functional_task_input,
    "tool_agent": hitl_agent_input,
}
"""Input makers by graph name, for a run that pauses at the graph's gate."""
