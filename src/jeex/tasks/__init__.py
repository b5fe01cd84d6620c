"""The job queue's tasks, one procrastinate blueprint per domain, and the reaper.

A worker registers the blueprints (``jeex.tasks.registry``); nothing below this layer
knows a task exists, only the names and queues it defers to (``jeex.queue.app``).
"""
