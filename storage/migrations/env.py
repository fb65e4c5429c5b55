"""Alembic environment: runs on the connection the application hands it."""

from alembic import context
from sqlalchemy import create_engine

from storage.schema import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:
    context.configure(
        connection=conn,
        target_metadata=metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # the alembic command line, for writing new migrations
    url = config.get_main_option("sqlalchemy.url")
    assert url, "set sqlalchemy.url to write migrations from the alembic command line"
    with create_engine(url).connect() as conn:
        _run(conn)
