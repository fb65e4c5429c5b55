"""HTTP surface for machines: ingestion API, OTLP receiver, OpenAPI, metrics."""
