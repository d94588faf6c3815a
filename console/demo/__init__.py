"""Deterministic demo graphs and a seeder that leaves them paused at every kind of gate.

No LLM and no network: every node is plain Python, and every input is derived from a
seed, so a demo database (and the tests built on it) is the same on every run.

- `console.demo.graphs`: the graphs, `DEMO_GRAPHS`, `demo_config`, `demo_answer`.
- `console.demo.task_graphs`: the graphs that pause in `Send` branches, the Functional
  API and tools run one per call (registered in `DEMO_GRAPHS` too).
- `console.demo.gates`: what the graphs share (types, answer contracts, fake tools).
- `console.demo.seed`: `seed_demo` and `SeededThread`.
- `console.demo.data`: the fake but realistic inputs (secrets included, on purpose).
"""
