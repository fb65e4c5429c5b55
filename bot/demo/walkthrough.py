"""`aiusage demo`: an offline walk-through on a throw-away database and an in-process fake
Slack. Usage goes in through the real ingestion API and `/aiusage` through the real signed
Slack endpoint, over loopback HTTP; nothing leaves the machine."""

from __future__ import annotations

import argparse
import json
import random
import secrets
import tempfile
import threading
import time as clock
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import SecretStr
from starlette.types import ASGIApp

from bot.cli.awards import run_post
from bot.cli.context import CliContext
from bot.composition import build_services, create_http_app
from bot.demo.fake_slack import FakeSlack
from bot.demo.home import open_home
from bot.demo.signed_requests import block_actions, signed_headers, slash_command
from bot.services import Services
from bot.slack.client import make_web_client
from bot.slack.identity import resolve_unmatched_emails
from bot.slack.views.admin import CONFIRM_ACTION
from bot.slack.views.text import as_text
from jobs.weeks import local_day
from storage.integrations import create_integration


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo", help="offline walk-through: no Slack account or network needed"
    )
    demo.set_defaults(run=run_demo)


@dataclass(frozen=True)
class Teammate:
    user_id: str
    name: str
    email: str
    tz: str
    habit: str  # steady | bursty | light | by-email


AWARD_CHANNEL = "CAWARDS"
ANNOUNCEMENT = (
    "We are retiring the AI leaderboard: ranking colleagues turned out to reward volume, "
    "not useful work. Your own stats stay private to you with `/aiusage me`."
)

TEAM = (
    Teammate("UADA", "ada", "ada@example.com", "Europe/Berlin", "steady"),
    Teammate("UBEN", "ben", "ben@example.com", "America/New_York", "bursty"),
    Teammate("UCHEN", "chen", "chen@example.com", "Asia/Singapore", "light"),
    Teammate("UDEE", "dee", "Dee@Example.com", "Europe/London", "by-email"),
)


def run_demo(_args: argparse.Namespace, cli: CliContext) -> int:
    settings = cli.settings
    started = clock.monotonic()
    say = _printer()
    with tempfile.TemporaryDirectory(prefix="aiusage-demo-") as tmp, FakeSlackRunning() as fake:
        secret = secrets.token_hex(16)
        demo_settings = settings.model_copy(
            update={
                "database_url": f"sqlite:///{Path(tmp) / 'demo.db'}",
                "slack_api_url": fake.api_url,
                "slack_bot_token": SecretStr("xoxb-demo"),
                "slack_signing_secret": SecretStr(secret),
                "slack_app_token": None,
                "admins": ("UADA",),
                "award_channels": (AWARD_CHANNEL,),
            }
        )
        services = build_services(demo_settings, cli.clock, migrate=True)
        for person in TEAM:
            fake.add_user(
                person.user_id, email=person.email.lower(), name=person.name, tz=person.tz
            )
        names = {p.user_id: p.name for p in TEAM}

        say(
            "aiusage demo",
            f"A throw-away database in {tmp}, a fake Slack on {fake.url}, and the real app "
            f"on loopback. Weeks are ISO weeks in {demo_settings.timezone.key}.",
        )
        with serving(create_http_app(services)) as base_url:
            now = services.clock()
            sent = _send_usage(base_url, services, now)
            say("1. Usage arrives through the ingestion API", *sent)

            found = resolve_unmatched_emails(services, make_web_client(demo_settings))
            say(
                "2. Emails are matched to Slack users (users.lookupByEmail)",
                *(f"{email} -> {names[uid]} ({uid})" for email, uid in found.matched.items()),
            )

            slash = SignedSlash(base_url, fake, secret)
            for step, (user_id, text) in enumerate(
                [("UADA", "me"), ("UADA", "top"), ("UBEN", "optout"), ("UCHEN", "top")], start=3
            ):
                reply = slash.ask(text, user_id)
                say(
                    f"{step}. {names[user_id]} types /aiusage {text}  (only {names[user_id]} "
                    "sees the reply)",
                    as_text(reply.get("blocks") or [], names),
                )

            say("7. The weekly award post: aiusage awards post (the last complete week)")
            run_post(
                argparse.Namespace(week=None), CliContext(demo_settings, services.clock, services)
            )
            posted = fake.messages[AWARD_CHANNEL]
            if posted:
                say(f"   ...as it appears in #{AWARD_CHANNEL}", as_text(posted[0]["blocks"], names))

            refused = slash.ask("retire", "UBEN")
            say(
                "8. ben types /aiusage retire  (ben is not an admin)",
                as_text(refused["blocks"], names),
            )
            preview = slash.ask(f"retire {ANNOUNCEMENT}", "UADA")
            say(
                "9. ada (in AIUSAGE_ADMINS) types /aiusage retire <announcement>, and sees a "
                "private preview",
                as_text(preview["blocks"], names),
            )
            answer = slash.click(CONFIRM_ACTION, _button_value(preview), "UADA")
            say("10. ada presses Retire and post, and confirms", as_text(answer["blocks"], names))
            say(
                f"   ...the announcement as it appears in #{AWARD_CHANNEL}",
                as_text(fake.messages[AWARD_CHANNEL][0]["blocks"], names),
            )
            reply = slash.ask("top", "UCHEN")
            say("11. chen types /aiusage top", as_text(reply["blocks"], names))
            # Charts are served from our own URL in HTTP mode; here that is the loopback server.
            services.settings = services.settings.model_copy(update={"public_url": base_url})
            say(
                "12. ada opens the aiusage app's Home tab (app_home_opened -> views.publish)",
                *open_home(base_url, fake, secret, "UADA"),
            )
        say(
            "That was all offline. To run it for real",
            "1. Create a Slack app from manifest.yml (api.slack.com/apps -> From a manifest).",
            "2. Put its bot token and signing secret in SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET.",
            "3. aiusage serve (behind a public HTTPS URL) or aiusage serve --socket-mode.",
            "4. aiusage integrations create claude-code, and point your tools at the API.",
            "5. In Slack: /aiusage help.   The README has the details.",
            f"(demo took {clock.monotonic() - started:.1f} s)",
        )
    return 0


def _button_value(reply: dict[str, Any]) -> str:
    for block in reply.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == CONFIRM_ACTION:
                return str(element["value"])
    raise RuntimeError("the retire preview has no confirm button")


def _printer():
    def say(title: str, *lines: str) -> None:
        print(f"\n== {title}")
        for line in lines:
            print(line)

    return say


@contextmanager
def FakeSlackRunning() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    try:
        yield fake
    finally:
        fake.stop()


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """An ASGI app served by uvicorn on a free loopback port, in a thread; yields its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = clock.monotonic() + 10
    while not server.started:
        if clock.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the demo server did not start")
        clock.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _send_usage(base_url: str, services: Services, now: datetime) -> list[str]:
    """Four weeks of made-up but plausible usage for the team, posted as events."""
    rng = random.Random(7)
    _, claude_key = create_integration(services.db, "claude-code", now)
    _, copilot_key = create_integration(services.db, "copilot", now)
    tz = services.settings.timezone
    today = local_day(now, tz)
    lines = []
    for person in TEAM:
        claude: list[dict[str, Any]] = []
        copilot: list[dict[str, Any]] = []
        for days_ago in range(27, -1, -1):
            day = today - timedelta(days=days_ago)
            if not _works(person.habit, day, days_ago == 0, rng):
                continue
            # Working hours that day, but never in the future: events from the future are
            # refused, and today's should count as today.
            day_start = datetime.combine(day, time(), tz)
            working = day_start + timedelta(hours=9 + rng.randint(0, 8))
            moment = max(min(working, now - timedelta(seconds=1)), day_start)
            who = (
                {"email": person.email}
                if person.habit == "by-email"
                else {"slack_user_id": person.user_id}
            )
            for n in range(1 if person.habit == "light" else 3):
                at = max(moment - timedelta(seconds=5 * n), day_start).astimezone(UTC).isoformat()
                scale = 40 if person.habit == "bursty" else 1
                claude.append(
                    {
                        "event_id": f"{person.user_id}-c-{days_ago}-{n}",
                        "user": who,
                        "occurred_at": at,
                        "kind": "agent",
                        "requests": rng.randint(2, 6) * scale,
                        "input_tokens": rng.randint(8_000, 30_000) * scale,
                        "output_tokens": rng.randint(1_000, 6_000) * scale,
                        "cost_usd": round(rng.uniform(0.05, 0.4) * scale, 2),
                    }
                )
                shown = rng.randint(10, 30)
                accept_share = {"steady": 0.45, "bursty": 0.08}.get(person.habit, 0.3)
                copilot.append(
                    {
                        "event_id": f"{person.user_id}-p-{days_ago}-{n}",
                        "user": who,
                        "occurred_at": at,
                        "kind": "inline_suggestion",
                        "requests": shown,
                        "suggestions_shown": shown,
                        "suggestions_accepted": round(shown * accept_share),
                    }
                )
        accepted = _post_events(base_url, claude_key, claude) + _post_events(
            base_url, copilot_key, copilot
        )
        sent_as = "by email only" if person.habit == "by-email" else person.user_id
        lines.append(f"{person.name} ({sent_as}, {person.habit}): {accepted} events accepted")
    return lines


def _works(habit: str, day: date, today: bool, rng: random.Random) -> bool:
    """Whether someone with this habit used AI tools that day; everyone has today, so the
    walk-through always has a week to show, whatever day it is run."""
    if today:
        return True
    if habit == "steady":
        return day.weekday() < 5
    if habit == "bursty":
        return rng.random() < 0.15
    return day.weekday() < 5 and rng.random() < 0.5


def _post_events(base_url: str, key: str, events: list[dict[str, Any]]) -> int:
    accepted = 0
    for start in range(0, len(events), 1000):
        body = json.dumps({"events": events[start : start + 1000]}).encode()
        request = urllib.request.Request(
            f"{base_url}/api/v1/events",
            data=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            accepted += json.load(response)["accepted"]
    return accepted


class SignedSlash:
    """Sends `/aiusage` as Slack would: a signed form POST, the reply read from the HTTP
    response or, when the app answers later, from its post to the fake's response_url."""

    def __init__(self, base_url: str, fake: FakeSlack, secret: str) -> None:
        self.base_url = base_url
        self.fake = fake
        self.secret = secret
        self.count = 0

    def ask(self, text: str, user_id: str) -> dict[str, Any]:
        return self._send(
            lambda url: slash_command(text, user_id=user_id, response_url=url), f"/aiusage {text}"
        )

    def click(self, action_id: str, value: str, user_id: str) -> dict[str, Any]:
        """Press a button in a reply; Slack acknowledges at once and the app answers after."""
        return self._send(
            lambda url: block_actions(action_id, value, user_id=user_id, response_url=url),
            f"the {action_id} button",
        )

    def _send(self, build: Callable[[str], str], what: str) -> dict[str, Any]:
        self.count += 1
        path = f"/response/demo{self.count}"
        body = build(self.fake.url + path)
        request = urllib.request.Request(
            f"{self.base_url}/slack/events",
            data=body.encode(),
            headers=signed_headers(body, secret=self.secret),
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        if raw:
            return json.loads(raw)
        deadline = clock.monotonic() + 10
        while clock.monotonic() < deadline:
            posted = [c.params for c in self.fake.calls_to("response_url") if c.path == path]
            if posted:
                return posted[0]
            clock.sleep(0.01)
        raise RuntimeError(f"no reply to {what}")
