"""The machinery that executes a run: runner, checkpointed sections, prompt sources,
claims on units, observers and the plan of runs behind ``jeex plan``.

Below the job queue's tasks and the entry points, above the agents and the domains.
"""
