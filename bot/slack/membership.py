"""Who the app answers: members of the workspace its bot token belongs to. Pure rules over
what Slack says: `auth.test` (ours), `users.info` (the caller) and a request's own team."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

# A member sees everything a member may; a guest only their own figures; a stranger nothing.
Standing = Literal["member", "guest", "stranger"]

# users.info flags that say the caller is no person of ours, whatever their team: someone
# from an organisation we share a channel with, a deactivated account, a bot or an app.
NOT_A_PERSON_OF_OURS = ("is_stranger", "deleted", "is_bot", "is_app_user", "is_workflow_bot")
GUEST_FLAGS = ("is_restricted", "is_ultra_restricted")


@dataclass(frozen=True, slots=True)
class Workspace:
    """Ours: the team the bot token belongs to, and its Enterprise Grid org if it has one."""

    team_id: str
    enterprise_id: str | None = None

    def holds(self, team_id: object, enterprise_id: object = None) -> bool:
        """Whether a team is ours: the same team or, on Enterprise Grid, the same org."""
        if self.enterprise_id and enterprise_id == self.enterprise_id:
            return True
        return bool(self.team_id) and team_id == self.team_id


def workspace_of(auth_test: Mapping[str, Any]) -> Workspace | None:
    """Ours, as `auth.test` answered for the bot token; None if it named no team or org."""
    team, org = auth_test.get("team_id"), auth_test.get("enterprise_id")
    team = team if isinstance(team, str) else ""
    org = org if isinstance(org, str) and org else None
    return Workspace(team, org) if team or org else None


def standing(user: Mapping[str, Any], ours: Workspace) -> Standing:
    """What a `users.info` user is to us. A missing team counts as another's: only a user
    Slack places in our workspace (or org) is ours."""
    if any(user.get(flag) for flag in NOT_A_PERSON_OF_OURS):
        return "stranger"
    org = user.get("enterprise_user")
    org_id = org.get("enterprise_id") if isinstance(org, Mapping) else None
    if not ours.holds(user.get("team_id"), org_id):
        return "stranger"
    return "guest" if any(user.get(flag) for flag in GUEST_FLAGS) else "member"


def says_workspace_admin(user: Mapping[str, Any], ours: Workspace) -> bool:
    """Whether a `users.info` user is an admin or owner of our workspace: a member of ours,
    and only a true `true` counts, never a value that merely looks truthy ("false"). On
    Enterprise Grid `is_admin` and `is_owner` are about the user's own workspace, so an
    admin of the org's other workspace is none of ours; installed org-wide, the org's own
    admins and owners (`enterprise_user`) are."""
    if standing(user, ours) != "member":
        return False
    org_wide = bool(ours.enterprise_id) and ours.team_id in ("", ours.enterprise_id)
    if org_wide:
        role = user.get("enterprise_user")
    else:
        role = user if user.get("team_id") == ours.team_id else None
    return isinstance(role, Mapping) and (
        role.get("is_admin") is True or role.get("is_owner") is True
    )


def command_team(command: Mapping[str, Any]) -> tuple[object, object]:
    """The team and org a slash command's payload says its caller is in."""
    return command.get("team_id"), command.get("enterprise_id")


def click_team(body: Mapping[str, Any]) -> tuple[object, object]:
    """The team and org of whoever clicked (`block_actions`): the user's own team, which
    for a Slack Connect member is theirs, not the channel's. On Enterprise Grid the org is
    in `enterprise` for an org-wide install only, otherwise in `team.enterprise_id`; it is
    the clicked place's org, so a Slack Connect click in ours is left to `users.info`."""
    user, org, team = body.get("user"), body.get("enterprise"), body.get("team")
    org_id = org.get("id") if isinstance(org, Mapping) else None
    if org_id is None and isinstance(team, Mapping):
        org_id = team.get("enterprise_id")
    return user.get("team_id") if isinstance(user, Mapping) else None, org_id
