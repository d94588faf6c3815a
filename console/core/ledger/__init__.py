"""The decision ledger: every decision a reviewer makes, recorded before it runs.

Read the modules in this order; each imports only the ones before it:

1. `rows`: the value objects (decision types, statuses, a ledger row, a claim).
2. `schema`: the tables and indexes, versioned, for Postgres and SQLite.
3. `db`: the SQL that claims, finalises and reads rows, one class per backend.
4. `decisions`: a reviewer's decision turned into the exact resume value.
5. `answers`: keeping a failed resume's answer from being replayed.
6. `reconcile`: what really happened to a decision (not delivered / delivered and the
   run stopped before a named step / delivered and finished), read from the stored
   rows; settling what a crash left; the queue's `stalled` rows.
7. `apply`: validate, claim, resume, finalise with that truth.
8. `status`: where a decision stands, in words a reviewer reads.
"""
