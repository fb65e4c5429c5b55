"""Connectors that pull usage from the vendors' admin APIs (`registry` says which are on and
builds them). Nothing is imported here: Copilot's fetching process
(`bot.connectors.copilot_child`) imports this package, and must stay lean."""
