"""Benchmark: keys per decision when triaging a queue at 80x24 (issue 16, point 3).

One scripted run in a real pty (tmux, 80x24, TERM=xterm) of `hitl-console tui` on a
SQLite queue of N (default 200) `tutorial` threads paused at their `interrupt()`, in a
fixed mix: of every 10 threads, 5 approved, 3 rejected with a reason, 2 skipped. It is
run twice on copies of the same queue:

- **before**: the console of `--before REV` (default `main`, extracted with `git archive`
  into a temporary directory), driven the only way it allows: skip = esc, j, enter
  (back to the queue, down, open); approve = a, y; reject = r, the reason, enter, y.
- **after**: this checkout: skip = s; approve = a, y; reject = r, the reason, enter (the
  reason box shows the exact Command with the reason in it, so there is no second y/n).

Before each step the script waits until the detail shows the thread it expects (read back
from the screen), and after the run checks the ledger (`hitl-console audit --json`): every
approve and reject applied exactly once on the thread it was meant for, nothing on the
skipped ones. Keys are counted as sent (one tmux `send-keys` key each); the reason text
is counted apart. Printed: keys per skip, per approve, per reject (+ reason characters),
per decision, and in all, before and after, with the targets (skip 1 key, a decision at
most 2 keys plus the reason text).

    .venv/bin/python benchmarks/triage_keys.py              # 200 threads (~5 min)
    .venv/bin/python benchmarks/triage_keys.py --threads 40 --skip-before

Exit status 1 if a target fails or the ledger is not what the keys asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MIX = "aarasarars"  # of every 10 threads: a approve (5), r reject (3), s skip (2)
REASON = "outside the change window"
WIDTH, HEIGHT = 80, 24
HEADER = re.compile(r"(?m)^\s*(t-\d{4}) \| paused")


@dataclass
class Tally:
    keys: dict[str, int] = field(default_factory=lambda: {"approve": 0, "reject": 0, "skip": 0})
    counts: dict[str, int] = field(default_factory=lambda: {"approve": 0, "reject": 0,
                                                            "skip": 0})
    text_chars: int = 0
    setup_keys: int = 0
    seconds: float = 0.0
    planned: dict[str, str] = field(default_factory=dict)  # thread -> approve/reject/skip


class Terminal:
    """One tmux session on a private socket; keys in, screen text out."""

    def __init__(self, command: str) -> None:
        self.socket = f"hitl-triage-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(WIDTH),
                   "-y", str(HEIGHT), command)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                              capture_output=True, text=True).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t")

    def key(self, key: str) -> None:
        self._tmux("send-keys", "-t", "t", key)

    def text(self, text: str) -> None:
        self._tmux("send-keys", "-t", "t", "-l", text)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            time.sleep(0.03)
        raise AssertionError(f"{pattern!r} never appeared; the screen was:\n{screen}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


async def seed(path: Path, count: int) -> list[str]:
    """`count` tutorial threads run to their interrupt, oldest first (queue order)."""
    from console.core.dburl import parse_db_url
    from console.core.graphs import GraphInfo, GraphRegistry
    from console.core.store import open_store
    from console.demo.graphs import build_tutorial

    graph = build_tutorial()
    store = await open_store(parse_db_url(str(path)),
                             GraphRegistry([GraphInfo.of("tutorial", graph)]), create=True)
    ids = [f"t-{i:04d}" for i in range(count)]
    try:
        runnable = graph.copy(update={"checkpointer": store.saver})
        for index, thread_id in enumerate(ids):
            state = {"task": f"rotate key {index}", "requested_at": datetime.now(UTC),
                     "budget": Decimal("10"), "credentials": {}, "plan": [], "executed": [],
                     "status": "new", "rejection_reason": None}
            config: dict[str, object] = {"configurable": {"thread_id": thread_id},
                                         "metadata": {"graph_id": "tutorial"}}
            await runnable.ainvoke(state, config)  # type: ignore[arg-type]
    finally:
        await store.close()
    return ids


def current(term: Terminal, timeout: float = 30.0) -> str:
    """The thread whose detail is open (no dialog over it)."""
    screen = term.wait_for(HEADER.pattern, timeout)
    found = HEADER.search(screen)
    assert found is not None
    return found.group(1)


def wait_open(term: Terminal, thread_id: str, timeout: float = 30.0) -> None:
    term.wait_for(rf"(?m)^\s*{re.escape(thread_id)} \| paused.*\n(?:.*\n)*.*actions a approve",
                  timeout)


def drive(source: Path, db: Path, ids: Sequence[str], *, flow: str) -> Tally:
    """Triage every thread of `ids` in the MIX with `flow`'s keys ("before"/"after")."""
    config = db.with_name("config.toml")
    config.write_text("")
    command = (f"cd {db.parent} && env -u NO_COLOR -u COLORTERM TERM=xterm NO_COLOR=1 "
               f"PYTHONPATH={source} HITL_REVIEWER=bench HITL_CONFIG={config} "
               f"{sys.executable} -m console tui --db {db} --no-mouse "
               "--graph tutorial=console.demo.graphs:tutorial")
    term = Terminal(command)
    tally = Tally()
    try:
        term.wait_for(r"\d+ pending \|", timeout=120)
        term.key("Enter")  # open the first thread: once, not per decision
        tally.setup_keys += 1
        started = time.monotonic()
        for index, expected in enumerate(ids):
            wait_open(term, expected)
            what = {"a": "approve", "r": "reject"}.get(MIX[index % len(MIX)], "skip")
            tally.planned[expected] = what
            sent = 0
            if what == "skip":
                keys = ["s"] if flow == "after" else ["Escape", "j", "Enter"]
                for key in keys:
                    term.key(key)
                    if key == "Escape":
                        term.wait_for(r"SUMMARY")  # the queue, full height
                sent = len(keys)
            elif what == "approve":
                term.key("a")
                term.wait_for(r"Approve this thread\?")
                term.key("y")
                sent = 2
            else:
                term.key("r")
                term.wait_for(r"Reason \(required")
                term.text(REASON)
                tally.text_chars += len(REASON)
                if flow == "after":
                    # read it: the Command, with the reason in it
                    term.wait_for(r"(?s)Command\(.*rejected: outside.*enter: reject, "
                                  r"sending this Command")
                    term.key("Enter")
                    sent = 2
                else:
                    term.key("Enter")
                    term.wait_for(r"Reject this thread\?")
                    term.key("y")
                    sent = 3
            tally.keys[what] += sent
            tally.counts[what] += 1
            if index + 1 < len(ids):
                wait_open(term, ids[index + 1], timeout=60)
            else:
                term.wait_for(r"last: (approve|reject)|pending \|", timeout=60)
        tally.seconds = time.monotonic() - started
        time.sleep(1.0)  # the last decision's ledger row is final before the audit
        term.key("q")
    finally:
        term.close()
    check_ledger(source, db, tally)
    return tally


def check_ledger(source: Path, db: Path, tally: Tally) -> None:
    env = {**os.environ, "PYTHONPATH": str(source), "HITL_CONFIG": str(db.with_name(
        "config.toml"))}
    audit = subprocess.run([sys.executable, "-m", "console", "audit", "--json", "--db",
                            str(db)], capture_output=True, text=True, env=env, check=True)
    text = audit.stdout.strip()
    rows = json.loads(text) if text.startswith("[") else [
        json.loads(line) for line in text.splitlines() if line.strip()]
    done = {}
    for row in rows:
        assert row["thread_id"] not in done, f"{row['thread_id']} decided twice"
        assert row["status"] == "applied", row
        done[row["thread_id"]] = row["decision"]
    wanted = {t: w for t, w in tally.planned.items() if w != "skip"}
    differs = set(done.items()) ^ set(wanted.items())
    assert done == wanted, f"the ledger differs from the keys: {sorted(differs)}"


def extract(rev: str, into: Path) -> Path:
    """The console package of `rev`, outside the repository (nothing checked out)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "console"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def report(runs: dict[str, Tally]) -> bool:
    print(f"\nkeys per decision, {len(next(iter(runs.values())).planned)} threads at "
          f"{WIDTH}x{HEIGHT} (mix of 10: 5 approve, 3 reject, 2 skip; reason "
          f"{len(REASON)} characters, counted apart)\n")
    print(f"{'':24}" + "".join(f"{name:>10}" for name in runs))
    ok = True
    rows = [("skip", "skip"), ("approve", "approve"), ("reject (+ reason)", "reject")]
    for label, what in rows:
        cells = "".join(f"{t.keys[what] / max(1, t.counts[what]):>10.2f}" for t in runs.values())
        print(f"{label:24}{cells}")
    decisions = "".join(
        f"{(t.keys['approve'] + t.keys['reject']) / max(1, t.counts['approve'] + t.counts['reject']):>10.2f}"  # noqa: E501
        for t in runs.values())
    print(f"{'per decision':24}{decisions}")
    totals = "".join(f"{sum(t.keys.values()) + t.setup_keys:>10}" for t in runs.values())
    print(f"{'keys in all (+1 open)':24}{totals}")
    print(f"{'reason characters':24}" + "".join(f"{t.text_chars:>10}" for t in runs.values()))
    print(f"{'seconds (scripted)':24}" + "".join(f"{t.seconds:>10.1f}" for t in runs.values()))
    after = runs.get("after")
    if after is not None:
        checks = [
            ("skip is 1 key", after.keys["skip"] == after.counts["skip"]),
            ("approve at most 2 keys", after.keys["approve"] <= 2 * after.counts["approve"]),
            ("reject at most 2 keys + reason", after.keys["reject"] <= 2 * after.counts["reject"]),
        ]
        print()
        for name, passed in checks:
            ok &= passed
            print(f"{name:32}{'PASS' if passed else 'FAIL'}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=200)
    parser.add_argument("--before", default="main", help="git revision of the 'before' run")
    parser.add_argument("--skip-before", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("tmux") is None:
        print("tmux is needed (Debian: apt-get install tmux).", file=sys.stderr)
        return 1
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    with tempfile.TemporaryDirectory(prefix="triage-keys-") as tmp:
        work = Path(tmp)
        template = work / "template.sqlite"
        ids = asyncio.run(seed(template, args.threads))
        runs: dict[str, Tally] = {}
        plan: list[tuple[str, Path]] = []
        if not args.skip_before:
            (work / "before-src").mkdir()
            plan.append(("before", extract(args.before, work / "before-src")))
        plan.append(("after", ROOT))
        for name, source in plan:
            (work / name).mkdir()
            db = work / name / "queue.sqlite"
            shutil.copyfile(template, db)
            runs[name] = drive(source, db, ids, flow=name)
            print(f"{name}: {args.threads} threads triaged, ledger checked "
                  f"({runs[name].seconds:.0f} s)")
    ok = report(runs)
    load = os.getloadavg()
    print(f"\nload average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
