"""Persistence: SQLAlchemy models, named queries and Alembic migrations.

Only this package speaks SQL. Queries take and return the plain records in `storage.records`.
"""
