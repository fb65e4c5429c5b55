"""Where usage comes in: the events API, OpenTelemetry, and vendors' usage reports."""
