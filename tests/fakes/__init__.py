"""Fakes of the far side only: Slack's Web API served over loopback HTTP."""
