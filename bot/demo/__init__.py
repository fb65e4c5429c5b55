"""The offline demo and the fake Slack it runs against; only the CLI imports it."""
