"""The surfaces of aiusage: the Slack app, the HTTP API and the command line."""
