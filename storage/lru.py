"""A small bounded mapping for in-memory caches: every cache in the process has a size limit,
so no stream of new keys (identities, integrations) can grow memory without end."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most `limit` entries; adding past it forgets the least recently used. Safe to share
    between threads."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def get_many(self, keys: Iterable[K]) -> dict[K, V]:
        """The entries of these keys that are cached: one lock taken for a whole batch."""
        found: dict[K, V] = {}
        with self._lock:
            items = self._items
            for key in keys:
                value = items.get(key)
                if value is not None:
                    items.move_to_end(key)
                    found[key] = value
        return found

    def __getitem__(self, key: K) -> V:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __setitem__(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def update(self, items: dict[K, V]) -> None:
        for key, value in items.items():
            self[key] = value

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[K]:
        with self._lock:
            return iter(list(self._items))

    def values(self) -> list[V]:
        with self._lock:
            return list(self._items.values())

    def items(self) -> list[tuple[K, V]]:
        with self._lock:
            return list(self._items.items())

    def pop(self, key: K, default: V | None = None) -> V | None:
        with self._lock:
            return self._items.pop(key, default)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
