"""The read side: projections of the event log, and its verifiable history.

- `store`: read-model storage beside the event log (SQLite, PostgreSQL, memory);
- `driver`: batched catch-up with exactly-once tracking, LISTEN/poll, locks;
- `packets`, `revisions`, `objections`, `releases`, `audit`: the read models;
- `merkle`: the RFC 6962 tree and signed checkpoints; `audit`: export/verify;
- `runner`: every projection as a background thread (`quire worker`).
"""
