"""Teams from Slack user groups (AIUSAGE_TEAMS_FROM_USERGROUPS): `usergroups.list` and
`usergroups.users.list`, stored as the `slack` source's teams, refreshed on a schedule.

A team is named by the group's handle (what people type after @), which is what
`/aiusage org TEAM` takes. When Slack cannot be read, the teams from the last good
refresh stay as they are rather than vanish."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import Services
from jobs.teams import clean_team_name
from storage.bounds import SLACK_USER_ID
from storage.teams import replace_teams

log = logging.getLogger("aiusage.usergroups")
SOURCE = "slack"


@dataclass(frozen=True, slots=True)
class UsergroupSync:
    teams: int
    members: int
    skipped: list[str]  # groups whose handle cannot be a team name, with why


def sync_usergroups(services: Services, client: WebClient) -> UsergroupSync | None:
    """Replace the `slack` teams with the workspace's enabled user groups now; None (and
    nothing changed) when Slack could not be read."""
    try:
        groups = client.usergroups_list(include_disabled=False)["usergroups"] or []
        teams: dict[str, list[tuple[str, str]]] = {}
        external: dict[str, str] = {}
        skipped: list[str] = []
        for group in groups:
            raw = str(group.get("handle") or group.get("name") or "")
            try:
                name = clean_team_name(raw)
            except ValueError as exc:
                skipped.append(f"{group.get('id')}: {exc}")
                continue
            users = client.usergroups_users_list(usergroup=group["id"])["users"] or []
            members = teams.setdefault(name, [])
            for user in users:
                key = ("slack", str(user))
                if SLACK_USER_ID.fullmatch(str(user)) and key not in members:
                    members.append(key)
            external[name] = str(group["id"])
    except (SlackApiError, OSError, KeyError, TypeError) as exc:
        log.warning("reading Slack user groups failed; teams unchanged: %r", exc)
        return None
    replace_teams(services.db, SOURCE, teams, services.clock(), external)
    count = sum(len(m) for m in teams.values())
    log.info("teams from Slack user groups: %d teams, %d members", len(teams), count)
    return UsergroupSync(len(teams), count, skipped)
