"""Tenant templates: document kinds a tenant uploads as YAML, versioned, retired not deleted.

``schema`` turns YAML text into a ``jeex.templates.DocumentTemplate`` (every problem with
its line and field); ``service`` stores versions and reads them; ``jeex.kinds`` lists them
beside the built-in kinds.
"""
