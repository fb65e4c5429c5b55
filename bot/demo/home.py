"""The demo's App Home step: open a person's Home tab as Slack would (a signed
`app_home_opened` event), read back what was published, and fetch its chart image."""

from __future__ import annotations

import json
import tempfile
import time
import urllib.request
from pathlib import Path

from bot.demo.fake_slack import Call, FakeSlack
from bot.demo.signed_requests import app_home_opened, signed_headers
from bot.slack.views.home import home_text


def open_home(base_url: str, fake: FakeSlack, secret: str, user_id: str) -> list[str]:
    """Lines showing the published Home as text, and where its chart PNG was written."""
    before = len(fake.calls_to("views.publish"))
    body = app_home_opened(user_id)
    request = urllib.request.Request(
        f"{base_url}/slack/events",
        data=body.encode(),
        headers=signed_headers(body, "application/json", secret=secret),
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
    call = _published_for(fake, user_id, before)
    view = call.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    lines = [home_text(view)]
    for block in view["blocks"]:
        if block["type"] == "image" and block.get("image_url"):
            started = time.perf_counter()
            with urllib.request.urlopen(block["image_url"], timeout=10) as response:
                png = response.read()
            took = (time.perf_counter() - started) * 1000
            # Kept after the demo (unlike its database) so the picture can be looked at.
            folder = Path(tempfile.mkdtemp(prefix="aiusage-demo-chart-"))
            path = folder / f"home-chart-{user_id}.png"
            path.write_bytes(png)
            lines.append(
                f"The chart image Slack would fetch: {path} ({len(png):,} bytes, {took:.0f} ms)"
            )
    return lines


def _published_for(fake: FakeSlack, user_id: str, before: int, timeout: float = 10) -> Call:
    """The first `views.publish` for `user_id` after the first `before` calls. Others' Home
    refreshes (after an earlier `/aiusage optout`) may still be landing meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        calls = fake.wait_for("views.publish", before + 1, timeout=timeout)[before:]
        mine = [c for c in calls if c.params.get("user_id") == user_id]
        if mine:
            return mine[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no views.publish for {user_id}")
        before += len(calls)
