"""The job queue: procrastinate on the application's PostgreSQL.

``app`` holds the procrastinate App and the same-transaction enqueue; ``worker`` runs
a worker process (or an in-process worker for ``jeex plan``); ``reaper`` re-queues the
jobs of dead workers. Task bodies live with their domain (``jeex.tasks.runs``).
"""
