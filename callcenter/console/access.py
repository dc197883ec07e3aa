"""Who may use the call centre's live pages: agents take calls, supervisors watch the wallboard, superusers both."""
from __future__ import annotations

from dataclasses import dataclass

from core.services.roles import ROLE_AGENT, ROLE_NAMES, ROLE_SUPERVISOR


@dataclass(frozen=True)
class CallcenterAccess:
    agent: bool
    supervisor: bool

    @property
    def any(self) -> bool:
        return self.agent or self.supervisor


def callcenter_access(user) -> CallcenterAccess:
    """The call-centre roles of a user: signed-in staff in the agent or supervisor group; superusers hold both.
    One query (the user's group names)."""
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return CallcenterAccess(agent=False, supervisor=False)
    if user.is_superuser:
        return CallcenterAccess(agent=True, supervisor=True)
    names = set(user.groups.values_list("name", flat=True))
    return CallcenterAccess(agent=ROLE_NAMES[ROLE_AGENT] in names, supervisor=ROLE_NAMES[ROLE_SUPERVISOR] in names)
