"""Deterministic demo graphs and a seeder that leaves them paused at every kind of gate.

No LLM and no network: every node is plain Python, and every input is derived from a
seed, so a demo database (and the tests built on it) is the same on every run.

- `console.demo.graphs`: the graphs, `DEMO_GRAPHS`, `demo_config`, `demo_answer`.
- `console.demo.seed`: `seed_demo` and `SeededThread`.
- `console.demo.data`: the fake but realistic inputs (secrets included, on purpose).
"""
