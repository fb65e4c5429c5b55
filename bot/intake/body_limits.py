"""Bounds on a request body checked before it is parsed into objects: how many values (JSON)
or messages (protobuf) it holds and how deeply they nest. A small body can describe millions
of empty objects; each costs a hundred bytes or more once parsed, so these are counted on the
bytes, stopping at the first value past the limit. Pure functions: bytes in, a verdict out."""

from __future__ import annotations

import re
from itertools import accumulate

from google.protobuf.descriptor import Descriptor, FieldDescriptor


class TooComplex(ValueError):
    """The body holds more values, or nests deeper, than the limit; `status` is its answer."""

    def __init__(self, message: str, status: int = 413) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- JSON ---------------------------------------------------------------------------------

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b"[]{},")
_DEPTH = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1, ord(","): 0}


def check_json(body: bytes, *, max_values: int, max_depth: int) -> None:
    """Refuse JSON holding more than `max_values` containers and items, or nested deeper
    than `max_depth`. Counted first on the raw bytes (brackets and commas, at C speed); only
    when that passes a limit are strings taken out, so brackets inside them do not count."""
    structure = body.translate(None, _NOT_STRUCTURE)
    stripped = False
    if _values(structure) > max_values:
        structure, stripped = _without_strings(body), True
        if _values(structure) > max_values:
            raise TooComplex(f"body holds more than {max_values} JSON values")
    if _deepest(structure) > max_depth:
        if not stripped:
            structure = _without_strings(body)
        if _deepest(structure) > max_depth:
            raise TooComplex(f"body nests deeper than {max_depth} levels", status=400)


def _values(structure: bytes) -> int:
    return structure.count(b"[") + structure.count(b"{") + structure.count(b",")


def _without_strings(body: bytes) -> bytes:
    return _STRING.sub(b'""', body).translate(None, _NOT_STRUCTURE)


def _deepest(structure: bytes) -> int:
    return max(accumulate(_DEPTH[b] for b in structure), default=0)


# --- protobuf -----------------------------------------------------------------------------

_VARINT, _FIXED64, _LENGTH, _START_GROUP, _END_GROUP, _FIXED32 = range(6)


def check_protobuf(body: bytes, message: Descriptor, *, max_messages: int, max_depth: int) -> None:
    """Refuse a serialized `message` holding more than `max_messages` sub-messages, or nested
    deeper than `max_depth`. Walks the wire format by the message's descriptor, skipping
    scalars and strings by their length, and stops at the first message past the limit."""
    children = _children_cache.get(message.full_name)
    if children is None:
        children = _children_cache[message.full_name] = _children(message)
    stack = [(0, len(body), message.full_name)]
    seen = 0
    view = memoryview(body)
    while stack:
        position, end, name = stack.pop()
        fields = _children_cache[name]
        depth = len(stack) + 1
        while position < end:
            tag, position = _varint(view, position, end)
            wire = tag & 7
            if wire == _VARINT:
                _, position = _varint(view, position, end)
            elif wire == _FIXED64:
                position += 8
            elif wire == _FIXED32:
                position += 4
            elif wire == _LENGTH:
                size, position = _varint(view, position, end)
                child = fields.get(tag >> 3)
                if child is not None:
                    seen += 1
                    if seen > max_messages:
                        raise TooComplex(f"body holds more than {max_messages} messages")
                    if depth >= max_depth:
                        raise TooComplex(f"body nests deeper than {max_depth} levels", 400)
                    if position + size > end:
                        raise TooComplex("body is not valid protobuf: a field is cut short", 400)
                    # Come back to the rest of this message after the child.
                    stack.append((position + size, end, name))
                    stack.append((position, position + size, child))
                    break
                position += size
            else:
                raise TooComplex("body is not valid protobuf: groups are not used by OTLP", 400)
        if position > end:
            raise TooComplex("body is not valid protobuf: a field is cut short", 400)


def _varint(view: memoryview, position: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= end or shift > 63:
            raise TooComplex("body is not valid protobuf: a number is cut short", 400)
        byte = view[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7


_children_cache: dict[str, dict[int, str]] = {}


def _children(message: Descriptor) -> dict[int, str]:
    """Field number -> message type name for every message-typed field, for this message and
    every message reachable from it (the cache is filled for all of them)."""
    todo = [message]
    while todo:
        current = todo.pop()
        if current.full_name in _children_cache:
            continue
        fields = {
            field.number: field.message_type.full_name
            for field in current.fields
            if field.type == FieldDescriptor.TYPE_MESSAGE
        }
        _children_cache[current.full_name] = fields
        todo.extend(
            field.message_type
            for field in current.fields
            if field.type == FieldDescriptor.TYPE_MESSAGE
        )
    return _children_cache[message.full_name]
