"""The privacy requests from Slack: `mydata`, `forget` and its confirm button, and what
`optin` undoes. Each reads or changes storage through one function and returns plain data."""

from __future__ import annotations

from collections.abc import Callable

from bot.services import Services
from bot.slack.answers import ForgetDone, ForgetPreview, MyDataAnswer
from jobs.privacy import HomeEraser, PostEditor, forget_person
from storage.privacy import clear_tombstones
from storage.privacy_read import find_subject, inventory
from storage.privacy_records import Inventory, Span, Subject

# The audit actor of a forget someone asked for themselves: their own ID would name them.
SELF = "self"


class PrivacyService:
    """Answers `mydata` and `forget` for the caller, and forgets them when they confirm."""

    def __init__(
        self, services: Services, editor: PostEditor | None, home: HomeEraser | None = None
    ) -> None:
        self.services = services
        self.editor = editor
        self.home = home
        self.on_forget: list[Callable[[], None]] = []  # run after a forget: cache resets

    def mydata(self, slack_user_id: str) -> MyDataAnswer:
        return MyDataAnswer(slack_user_id, self._inventory(slack_user_id))

    def preview(self, slack_user_id: str) -> ForgetPreview:
        return ForgetPreview(slack_user_id, self._inventory(slack_user_id))

    def confirm(self, slack_user_id: str) -> ForgetDone:
        """Forget the person who pressed the button: the button names nobody else."""
        db = self.services.db
        subject = find_subject(db, slack_user_id=slack_user_id) or Subject(
            None, slack_user_id, None, ()
        )
        report = forget_person(
            db,
            subject,
            actor=SELF,
            now=self.services.clock(),
            editor=self.editor,
            rules=self.services.settings.award_rules(),
            home=self.home,
            policy=self.services.settings.post_policy(),
        )
        for reset in self.on_forget:
            reset()
        edits = report.edits
        return ForgetDone(
            report.forgotten.counts,
            len(edits.edited),
            edits.failed + edits.waiting,
            len(edits.rate_limited),
        )

    def opted_in(self, slack_user_id: str) -> None:
        """Usage for someone forgotten counts again once they opt in."""
        clear_tombstones(self.services.db, slack_user_id)

    def _inventory(self, slack_user_id: str) -> Inventory:
        subject = find_subject(self.services.db, slack_user_id=slack_user_id)
        if subject is None:
            return Inventory({}, [], Span(), Span(), Span(), Span(), 0)
        return inventory(self.services.db, subject)
