"""Picks the view for any answer to `/aiusage`."""

from __future__ import annotations

from bot.slack.answers import (
    Answer,
    BadgesAnswer,
    DigestAnswer,
    ForgetCancelled,
    ForgetDone,
    ForgetPreview,
    HelpAnswer,
    MeAnswer,
    MyDataAnswer,
    NotAnswered,
    OptAnswer,
    OrgNotAllowed,
    OrgRefused,
    OrgShown,
    RetiredTopAnswer,
    TopAnswer,
)
from bot.slack.views.admin import render_admin
from bot.slack.views.org import render_org
from bot.slack.views.personal import (
    render_badges,
    render_digest_answer,
    render_help,
    render_me,
    render_not_answered,
    render_opt,
    render_retired_top,
    render_top,
)
from bot.slack.views.privacy import render_privacy
from bot.slack.views.reply import Reply


def render(answer: Answer) -> Reply:
    """The message for any answer."""
    match answer:
        case MeAnswer():
            return render_me(answer)
        case TopAnswer():
            return render_top(answer)
        case BadgesAnswer():
            return render_badges(answer)
        case OptAnswer():
            return render_opt(answer)
        case HelpAnswer():
            return render_help(answer)
        case RetiredTopAnswer():
            return render_retired_top(answer)
        case DigestAnswer():
            return render_digest_answer(answer)
        case OrgShown() | OrgNotAllowed() | OrgRefused():
            return render_org(answer)
        case MyDataAnswer() | ForgetPreview() | ForgetDone() | ForgetCancelled():
            return render_privacy(answer)
        case NotAnswered():
            return render_not_answered(answer)
        case _:
            return render_admin(answer)
