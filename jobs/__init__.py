"""Scheduled work (weekly awards, integrity scans) and the pure rules behind it."""
