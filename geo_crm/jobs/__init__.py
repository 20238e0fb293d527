"""Background jobs on a PostgreSQL-backed queue: reports, and the region pages' analyses.

Why procrastinate (3.10) and not pgqueuer (1.6), both tried against psycopg 3 and the
embedded cluster (Unix socket, no TCP):

- *Synchronous callers.* geo_crm is synchronous (Flask, SQLAlchemy sessions, click).
  procrastinate defers, reads job status, cancels and retries synchronously on psycopg 3
  (``SyncPsycopgConnector``), and can defer **on a connection we pass** — the request's own
  transaction — so a report job row and its queue entry commit (or roll back) together.
  pgqueuer's synchronous side only enqueues and counts, and insists on an autocommit
  connection, so it cannot join our transaction; status reads are async-only.
- *Sync task code.* Both workers are asyncio; procrastinate runs plain ``def`` tasks in a
  thread for us, with ``run_worker(wait=False)`` to drain the queue and stop (tests, cron).
- *Schema under Alembic.* procrastinate ships its schema as one SQL file (plus versioned
  migration files), vendored into migration 0008 and run in a ``jobs`` schema; pgqueuer
  builds its DDL in code behind its own ``pgq install`` command.
- *Dependencies.* procrastinate brings attrs, asgiref, croniter, python-dateutil,
  psycopg-pool; pgqueuer brings typer, rich, uvloop, anyio, croniter, tabulate, pydantic-settings.

Layout: :mod:`.queue` (the procrastinate app, connections), :mod:`.store` (report jobs:
enqueue, state and progress, files), :mod:`.tasks` (what a worker runs), :mod:`.runtime`
(the database a worker process uses), :mod:`.analyses` (the analysis cache's recomputations, on
queue ``analyses``). ``geo-crm worker`` runs them. Upkeep: :mod:`.lost` (jobs of workers that
stopped, found by their heartbeats), :mod:`.cleanup` and :mod:`.queue_cleanup` (files and
procrastinate's rows past the retention), :mod:`.status` (``geo-crm jobs status``).
"""
