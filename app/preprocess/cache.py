"""A bounded, thread-safe LRU of control maps.

Keys are ``(image content hash, detector, parameters, width, height, fit)``;
values are :class:`~app.preprocess.base.MapResult`. Bounded by entry count and
by the bytes of the maps and depth arrays it holds.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from app.preprocess.base import MapResult

MapKey = tuple[str, str, str, int, int, str]


@dataclass
class CacheStats:
    """Counters since the cache was created or cleared."""

    hits: int = 0
    misses: int = 0
    entries: int = 0
    bytes: int = 0


def _size_of(result: MapResult) -> int:
    size = len(result.map.getbands()) * result.map.width * result.map.height
    if result.depth is not None:
        size += result.depth.nbytes
    return size


class MapCache:
    """LRU of maps. ``get`` returns an independent copy, so callers cannot alter the cached map."""

    def __init__(self, max_entries: int = 64, max_bytes: int = 512 * 2**20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[MapKey, MapResult] = OrderedDict()
        self._lock = threading.Lock()
        self._stats = CacheStats()

    def get(self, key: MapKey) -> MapResult | None:
        """The cached result for ``key`` (marked ``cached=True``), or None; counts a hit or a miss."""
        with self._lock:
            result = self._items.get(key)
            if result is None:
                self._stats.misses += 1
                return None
            self._items.move_to_end(key)
            self._stats.hits += 1
        return _copy(result, cached=True)

    def put(self, key: MapKey, result: MapResult) -> None:
        """Store a copy of ``result``, evicting the least recently used entries beyond the bounds."""
        stored = _copy(result, cached=False)
        with self._lock:
            if key in self._items:
                self._stats.bytes -= _size_of(self._items.pop(key))
            self._items[key] = stored
            self._stats.bytes += _size_of(stored)
            while self._items and (len(self._items) > self.max_entries or self._stats.bytes > self.max_bytes):
                _, evicted = self._items.popitem(last=False)
                self._stats.bytes -= _size_of(evicted)
            self._stats.entries = len(self._items)

    def clear(self) -> None:
        """Drop every map and reset the counters."""
        with self._lock:
            self._items.clear()
            self._stats = CacheStats()

    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        with self._lock:
            return CacheStats(**vars(self._stats))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def _copy(result: MapResult, cached: bool) -> MapResult:
    extras: dict[str, Any] = copy.deepcopy(result.extras)
    return MapResult(
        map=result.map.copy(),
        detector=result.detector,
        control_type=result.control_type,
        params=dict(result.params),
        people=list(result.people) if result.people is not None else None,
        depth=result.depth.copy() if result.depth is not None else None,
        seconds=0.0 if cached else result.seconds,
        cached=cached,
        extras=extras,
    )
