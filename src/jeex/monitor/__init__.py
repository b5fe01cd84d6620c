"""The document monitor: one document of any kind (a petition, a letter, a memo, a
tenant's template), written section by section in the background and watched live.

A document is a project whose ``kind`` is that document's kind (a plan is a project of
kind ``plan``): its runs, sections, events, versions, exhibits and exports are the
engine's own, so every rule of a plan step (durable job, pause and resume, retries,
citations, the quality rules, row-level security) holds for it unchanged.
"""
