"""The Slack surface: the Bolt app, its listeners, views and Web API client."""
