"""What the tests share: helpers, factories, servers and sample files.

Every test folder imports these as ``support.<module>`` (``pythonpath = ["tests"]``);
test modules themselves are imported by path (``--import-mode=importlib``), so nothing
is importable under two names and a ``conftest`` is never imported by name.

- ``support.factories``: one factory per domain,
  ``create_<thing>(session, *, tenant, **overrides)``;
- ``support.cli``: the ``jeex`` command, in process (``invoke``) or as a real process (``jeex``);
- ``support.servers``: a real ``jeex serve`` on loopback and an SSE frame reader;
- ``support.api``: callers of the in-process ASGI app with a token;
- ``support.web``: what the browser tests share;
- ``support.fakellm``: the scripted OpenAI-compatible server (the only fake);
- ``support.oidc``: a real OpenID Connect provider (``oidc-provider-mock``) on loopback,
  with switches that make it misbehave (another issuer, another audience);
- ``support.exports``, ``support.exhibit_files``, ``support.canary``: sample data and a
  loopback canary for exfiltration tests.
"""
