"""The App Home: what each person's tab shows, published with `views.publish`, and the chart
images behind it, re-rendered from the database for `GET /charts/<token>`.

Publishing never waits for a chart: in HTTP mode the image block points at our own
`/charts/<token>` URL (Slack fetches it after the view is up), elsewhere a text chart is shown.
A chart that cannot be built leaves the figures in place. Publishes go through `HomeQueue`:
one at a time per person, reading the figures when they run. The Home's own client hands
each 429 back at once: a Home thread never sleeps out Slack's Retry-After, and a publish
makes do with what it has (the stored profile, a text chart) or is dropped till the next open.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.charts import Chart, alt_text, render_png
from bot.services import Services
from bot.slack.answers import MeAnswer, Viewer, viewer_from
from bot.slack.chart_tokens import ChartRef, chart_key, sign
from bot.slack.chart_upload import ChartUploads
from bot.slack.home_chart import TREND_KIND, chart_size, chart_weeks, text_chart, trend_chart
from bot.slack.home_queue import HomeQueue
from bot.slack.rate_limits import OncePer, rate_limited, retry_after
from bot.slack.usage_service import actor
from bot.slack.views.home import ChartImage, HomeData, home_view
from bot.slack.views.privacy import forgotten_home_view
from jobs.admin import AdminService
from jobs.file_deletes import ChartFiles
from jobs.scoring import compare_weeks
from jobs.weeks import Week, current_week, local_day, parse_week
from storage.awards import awards_for
from storage.digests import digest_enabled, set_digest
from storage.leaderboard import leaderboard_state
from storage.privacy import is_forgotten
from storage.profiles import find_slack_profile, slack_user_of
from storage.usage_queries import person_daily

log = logging.getLogger("aiusage.home")

CHART_CACHE_SIZE = 256  # about 40 KB each: ~10 MB at most
ERASE_TRIES = 5  # a rate-limited deleted Home is sent again after Retry-After, this often


class ChartCache:
    """A small LRU of rendered PNGs keyed by the chart data itself, so a hit is always the
    picture of the current figures, and new usage simply misses. A chart is drawn once
    however many ask for it at once: the others wait for that render (`misses` counts
    renders, `hits` everything else); different charts render side by side."""

    def __init__(
        self, size: int = CHART_CACHE_SIZE, render: Callable[[Chart], bytes] | None = None
    ) -> None:
        self.size = size
        self._render = render or _render
        self._items: OrderedDict[Chart, bytes] = OrderedDict()
        self._drawing: dict[Chart, Future[bytes]] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def png(self, chart: Chart) -> bytes:
        """The chart's PNG. A render that raises raises for those waiting on it too: the
        same figures fail the same way, so drawing them again at once would only repeat
        the cost; nothing is kept, so the next request draws afresh."""
        with self._lock:
            found = self._items.get(chart)
            if found is not None:
                self._items.move_to_end(chart)
                self.hits += 1
                return found
            drawing = self._drawing.get(chart)
            if drawing is not None:
                self.hits += 1
            else:
                self.misses += 1
                mine = self._drawing[chart] = Future()
        if drawing is not None:
            return drawing.result()
        try:
            png = self._render(chart)  # outside the lock: other charts render meanwhile
        except BaseException as exc:
            with self._lock:
                self._forget_drawing(chart, mine)
            mine.set_exception(exc)
            raise
        with self._lock:
            # Not kept if a `clear` came meanwhile: it may have been a forget of these figures.
            if self._forget_drawing(chart, mine):
                self._items[chart] = png
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        mine.set_result(png)
        return png

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._drawing.clear()

    def _forget_drawing(self, chart: Chart, mine: Future[bytes]) -> bool:
        """Drop our render from those under way; False if a `clear` already had."""
        if self._drawing.get(chart) is mine:
            del self._drawing[chart]
            return True
        return False


def _render(chart: Chart) -> bytes:
    return render_png(chart, *chart_size(chart))


@dataclass
class _Owed:
    """A deleted Home not yet taken by Slack: tries left, and when it was asked for."""

    tries: int
    since: int


@dataclass
class HomeService:
    """Builds and publishes Home tabs, through `client` (whose 429s reach us at once), and
    serves their charts."""

    services: Services
    admin: AdminService
    cache: ChartCache
    uploads: ChartUploads
    client: WebClient
    queue: HomeQueue = field(default_factory=HomeQueue)

    # matplotlib's first render imports it and loads fonts (about a second, some 55 MB): done
    # in the background at the first Home publish, before Slack fetches that Home's chart,
    # rather than at start, so a replica nobody opens a Home on never carries it.
    _warming: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _limited: OncePer = field(default_factory=OncePer, init=False, repr=False)
    _retries: set[threading.Timer] = field(default_factory=set, init=False, repr=False)
    _owed: dict[str, _Owed] = field(default_factory=dict, init=False, repr=False)
    _starts: Iterator[int] = field(default_factory=itertools.count, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def build(cls, services: Services, admin: AdminService, client: WebClient) -> HomeService:
        cache = ChartCache()
        uploads = ChartUploads(cache.png, files=ChartFiles(services.db, services.clock))
        return cls(services, admin, cache, uploads, client)

    def forget_charts(self) -> None:
        """Drop every rendered chart and uploaded file ID this process keeps, after a forget:
        a chart is keyed by its figures, not its owner, so all go (they are redrawn on use)."""
        self.cache.clear()
        self.uploads.clear()

    @property
    def _key(self) -> bytes | None:
        secret = self.services.settings.slack_signing_secret
        return chart_key(secret.get_secret_value()) if secret else None

    def data(
        self, viewer: Viewer, note: str | None = None, client: WebClient | None = None
    ) -> HomeData:
        """One person's Home, read fresh. With `client` and no public URL, the chart is
        uploaded to Slack; otherwise, without a public URL, it is shown as text."""
        settings = self.services.settings
        db = self.services.db
        now = self.services.clock()
        tz = settings.timezone
        today = local_day(now, tz)
        week = current_week(now, tz)
        daily = person_daily(db, viewer.person_id, chart_weeks(week)[0].start, today)
        me = MeAnswer(
            viewer,
            now.astimezone(viewer.tz),
            compare_weeks(daily, week, today),
            awards_for(db, viewer.person_id, limit=5),
            {c.key: f"{c.emoji} {c.title}" for c in settings.award_rules().categories},
        )
        image, text = None, None
        try:
            chart = trend_chart(daily, week, today)
            image = self._chart_image(
                chart, ChartRef(viewer.person_id, week.label, TREND_KIND, viewer.slack_user_id), now
            )
            if image is None and client is not None:
                file_id = self.uploads.file_for(client, viewer.person_id, chart)
                image = ChartImage(alt_text(chart), slack_file_id=file_id) if file_id else None
            text = None if image else text_chart(chart)
        except Exception:
            log.exception("building the Home chart for %s failed", viewer.slack_user_id)
        is_admin = self.admin.allowed(actor(viewer))
        return HomeData(
            me=me,
            categories=settings.award_rules().categories,
            digest_on=digest_enabled(db, viewer.person_id),
            chart=image,
            chart_text=text,
            leaderboard=leaderboard_state(db) if is_admin else None,
            note=note,
        )

    def _chart_image(self, chart: Chart, ref: ChartRef, now: datetime) -> ChartImage | None:
        base = self.services.settings.public_url
        key = self._key
        if base is None or key is None:
            return None
        return ChartImage(alt_text(chart), image_url=f"{base}/charts/{sign(key, ref, now)}.png")

    def publish(self, viewer: Viewer, note: str | None = None) -> None:
        """Publish the viewer's Home tab (only they see it), in their turn."""
        user = viewer.slack_user_id
        self.queue.submit(user, lambda: self._publish(user, viewer, note))

    def open(self, slack_user_id: str, find: Callable[[WebClient], Viewer | None]) -> None:
        """The person opened their Home: `find` who they are, asking Slack through the Home's
        client, then publish it, in their turn (opens while one is under way are merged)."""

        def job() -> None:
            # Someone forgotten is not looked up: `find` would store their profile again.
            if is_forgotten(self.services.db, slack_user_id):
                self._publish(slack_user_id, None)
            elif (viewer := find(self.client)) is not None:
                self._publish(slack_user_id, viewer, None)

        self.queue.submit(slack_user_id, job)

    def erase(self, slack_user_id: str) -> None:
        """After a forget: publish what the person's Home is now (the deleted one), after any
        publish already under way, so none that read their figures can land after it. It is
        owed until one begun after this is taken: a rate-limited one is sent again after
        Slack's Retry-After, up to ERASE_TRIES times."""
        with self._lock:
            self._owed[slack_user_id] = _Owed(ERASE_TRIES, since=next(self._starts))
        self.queue.submit(slack_user_id, lambda: self._publish(slack_user_id, None))

    def close(self) -> None:
        """Publish what is under way or pending, then no more (at shutdown)."""
        with self._lock:
            for timer in self._retries:
                timer.cancel()
            self._retries.clear()
        self.queue.close()

    def _publish(self, slack_user_id: str, viewer: Viewer | None, note: str | None = None) -> None:
        if not self._warming.is_set():
            self._warming.set()
            threading.Thread(target=_warm_up, name="chart-warm-up", daemon=True).start()
        with self._lock:
            started = next(self._starts)
        # Read now, not when asked: a forget or a setting may have landed since.
        profile = find_slack_profile(self.services.db, slack_user_id)
        # A command since the forget may have stored a profile again: until they opt in,
        # nothing of theirs is counted, so the Home says so rather than show empty figures.
        if profile is None or is_forgotten(self.services.db, slack_user_id):
            view = forgotten_home_view()
        else:
            if viewer is None:
                viewer = viewer_from(profile, self.services.settings.timezone)
            viewer = replace(viewer, person_id=profile.person_id, opted_out=profile.opted_out)
            view = home_view(self.data(viewer, note, self.client))
        try:
            self.client.views_publish(user_id=slack_user_id, view=view)
        except SlackApiError as exc:
            if not rate_limited(exc):
                raise
            self._rate_limited(slack_user_id, retry_after(exc))
            return
        with self._lock:
            owed = self._owed.get(slack_user_id)
            if owed is not None and started > owed.since:
                del self._owed[slack_user_id]

    def _rate_limited(self, slack_user_id: str, wait: float) -> None:
        """Dropped, not waited out on a thread (the next open publishes it again), unless
        the person's deleted Home is owed: that is sent again after `wait`."""
        with self._lock:
            owed = self._owed.get(slack_user_id)
            if owed is not None:
                owed.tries -= 1
                if owed.tries > 0:
                    self._later(wait, slack_user_id)
                    return
                del self._owed[slack_user_id]
            elif not self._limited.due(slack_user_id):
                return
        what = "deleted Home" if owed is not None else "Home tab"
        log.warning(
            "Slack rate limited the %s of %s: not published; the next open publishes it",
            what,
            slack_user_id,
        )

    def _later(self, wait: float, slack_user_id: str) -> None:
        # A timer rather than a sleeping thread: it holds no worker while Slack's limit lasts.
        def fire() -> None:
            with self._lock:
                self._retries.discard(timer)
            self.queue.submit(slack_user_id, lambda: self._publish(slack_user_id, None))

        timer = threading.Timer(wait, fire)
        timer.daemon = True
        self._retries.add(timer)
        timer.start()

    def set_digest(self, viewer: Viewer, on: bool) -> None:
        set_digest(self.services.db, viewer.slack_user_id, on, self.services.clock())

    def chart_png(self, ref: ChartRef) -> bytes | None:
        """The PNG a verified token grants, drawn from the figures as they are now; None for
        a kind or week we do not draw."""
        if ref.kind != TREND_KIND or slack_user_of(self.services.db, ref.person_id) != (
            ref.slack_user_id
        ):
            return None
        try:
            week = parse_week(ref.week)
        except ValueError:
            return None
        now = self.services.clock()
        tz = self.services.settings.timezone
        today = min(local_day(now, tz), week.end)
        first = chart_weeks(week)[0].start
        daily = person_daily(self.services.db, ref.person_id, first, today)
        return self.cache.png(trend_chart(daily, Week(week.start), today))


def _warm_up() -> None:
    try:
        render_png(Chart("warm-up", ()), 100, 100)
    except Exception:  # a failure here shows again, and is logged, at the first real render
        log.debug("chart warm-up failed", exc_info=True)
