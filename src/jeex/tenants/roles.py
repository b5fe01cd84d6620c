"""What each role may do to members, in one place (the routes and the UI follow it).

A lower rank may do more: owner 0, admin 1, editor 2, viewer 3. Owners and admins
manage members; nobody grants a role above their own or changes someone ranked above
them, so an admin can neither make an owner nor touch one.
"""

from __future__ import annotations

from jeex.errors import Forbidden
from jeex.vocabulary import Role

ORDER = tuple(Role)
#: May create, run and change projects (viewers only read).
WRITERS = (Role.OWNER, Role.ADMIN, Role.EDITOR)
#: May invite, change roles, remove members and read the security log.
MANAGERS = (Role.OWNER, Role.ADMIN)


def rank(role: str) -> int:
    """owner 0 < admin 1 < editor 2 < viewer 3."""
    return ORDER.index(Role(role))


def with_article(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def require_manager(role: str) -> None:
    if role not in MANAGERS:
        raise Forbidden("only owners and admins manage members")


def require_may_grant(caller: str, role: str) -> None:
    """The caller may hand out ``role`` (to an invitation, a member or a key)."""
    if rank(role) < rank(caller):
        raise Forbidden(f"{with_article(caller)} cannot grant the {role} role")


def require_may_change(caller: str, target: str) -> None:
    """The caller may change or remove a member who has role ``target``."""
    if rank(target) < rank(caller):
        raise Forbidden(f"{with_article(caller)} cannot change or remove {with_article(target)}")
