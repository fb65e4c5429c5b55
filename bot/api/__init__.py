"""HTTP surface for machines: ingestion API, OTLP receiver, health, metrics and OpenAPI routes."""
