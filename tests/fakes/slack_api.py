"""The fake Slack Web API lives in `bot.demo.fake_slack`, so `aiusage demo` runs on the same one."""

from bot.demo.fake_slack import Call, Failure, FakeSlack

__all__ = ["Call", "Failure", "FakeSlack"]
