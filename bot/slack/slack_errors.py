"""Slack's errors that are about our bot token or app, or about Slack itself, rather than about
whom or what was asked: a caller must not take them for "no such user"."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

# Errors about Slack itself, sent as an answer rather than as a 5xx: nothing of whom was asked.
SLACK_TROUBLE = frozenset(
    {"fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)
# Errors about our bot token or app, whoever is asked about: the scope missing, the token
# revoked, expired, of the wrong kind, or its workspace out of reach. Every call after one
# would get the same until it is put right.
TOKEN_REFUSED = frozenset(
    {
        "missing_scope",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "no_permission",
        "not_allowed_token_type",
        "ekm_access_denied",
        "team_access_not_granted",
        "access_denied",
        "enterprise_is_restricted",
        "org_login_required",
        "two_factor_setup_required",
        "is_bot",
        "method_deprecated",
        "deprecated_endpoint",
    }
)


def refusal(exc: SlackApiError, scope: str) -> str:
    """Slack's error, said for an operator: for a missing scope, the one Slack's answer says
    the method needs (`needed`), else `scope`, the one it is documented to need."""
    status = exc.response.status_code
    error = str(exc.response.get("error") or f"HTTP {status}")
    if status >= 500:  # its body, if any, is no Slack error
        return f"HTTP {status}"
    if error == "missing_scope":
        needed = exc.response.get("needed") or scope
        return f"{error}: the bot token needs the {needed} scope (add it to the app, reinstall)"
    if error in TOKEN_REFUSED:
        return f"{error}: Slack refuses the bot token or the app"
    return error
