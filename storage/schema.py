"""Every table on one metadata: what migrations are compared with, and what checks that walk
all tables read. The tables live in `storage.models` and `storage.post_models`."""

from __future__ import annotations

import storage.post_models  # noqa: F401  (registers its tables on Base.metadata)
from storage.models import Base

metadata = Base.metadata
