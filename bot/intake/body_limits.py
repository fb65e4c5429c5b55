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

_NOT_QUOTE_OR_BRACKET = bytes(b for b in range(256) if b not in b'"[]{}')
_NOT_QUOTE_BRACKET_OR_COMMA = bytes(b for b in range(256) if b not in b'"[]{},')
_QUOTED = re.compile(rb'"[^"]*"')
_DEPTH = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1, ord(","): 0}


def check_json(body: bytes, *, max_values: int, max_depth: int) -> None:
    """Refuse JSON holding more than `max_values` containers and items, or nested deeper
    than `max_depth`."""
    check_json_values(body, max_values=max_values)
    check_json_depth(body, max_depth=max_depth)


def check_json_values(body: bytes, *, max_values: int) -> None:
    """Refuse JSON holding more than `max_values` containers and items, those inside
    strings not counted. The raw count (at C speed, with no copy) can only be higher, so
    strings are taken out only when it passes the limit."""
    if _values(body) <= max_values:
        return
    if _values(_outside_strings(body, keep_commas=True)) > max_values:
        raise TooComplex(f"body holds more than {max_values} JSON values")


def check_json_depth(body: bytes, *, max_depth: int) -> None:
    """Refuse JSON nested deeper than `max_depth`, strings taken out: brackets inside them
    can pair with real ones and hide any depth."""
    if _deeper_than(_outside_strings(body), max_depth):
        raise TooComplex(f"body nests deeper than {max_depth} levels", status=400)


def _outside_strings(body: bytes, *, keep_commas: bool = False) -> bytes:
    """The body's brackets (and commas), in order, leaving out those inside strings; in
    linear time at C speed: escapes that could hide a quote go first, then everything but
    quotes and brackets, and what is left of each string is a pair of quotes around them.
    (A regular expression for a whole JSON string backtracks: over the escaped quotes of an
    unterminated string it is quadratic, minutes for half a megabyte.)"""
    plain = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    dropped = _NOT_QUOTE_BRACKET_OR_COMMA if keep_commas else _NOT_QUOTE_OR_BRACKET
    kept = _QUOTED.sub(b"", plain.translate(None, dropped))
    return kept.replace(b'"', b"")  # an unterminated string: the parser will refuse it


def _values(text: bytes) -> int:
    return text.count(b"[") + text.count(b"{") + text.count(b",")


def _deeper_than(structure: bytes, depth: int) -> bool:
    """Whether brackets (everything else removed) nest deeper than `depth`. A pass removes
    the innermost `[]` pairs, then the `{}` pairs innermost after that, at C speed: at most
    two levels. Emptied in `depth // 2` passes, the body is shallow enough; anything else
    (deep, unbalanced, or an odd limit's last level) is walked byte by byte."""
    brackets = structure.replace(b",", b"")
    for _ in range(depth // 2):
        brackets = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if not brackets:
            return False
    return bool(brackets) and _deepest(structure) > depth


def _deepest(structure: bytes) -> int:
    return max(accumulate(_DEPTH[b] for b in structure), default=0)


# --- protobuf -----------------------------------------------------------------------------

_VARINT, _FIXED64, _LENGTH, _START_GROUP, _END_GROUP, _FIXED32 = range(6)


def check_protobuf(body: bytes, message: Descriptor, *, max_messages: int, max_depth: int) -> None:
    """Refuse a serialized `message` holding more than `max_messages` sub-messages, or nested
    deeper than `max_depth`. Walks the wire format by the message's descriptor, skipping
    scalars and strings by their length, and stops at the first message past the limit."""
    if message.full_name not in _children_cache:
        _children(message)
    stack = [(0, len(body), message.full_name)]
    seen = 0
    while stack:
        position, end, name = stack.pop()
        fields = _children_cache[name]
        depth = len(stack) + 1
        while position < end:
            tag = body[position]  # one byte holds the tag of fields 1 to 15, nearly all of them
            position += 1
            if tag > 0x7F:
                tag, position = _varint(body, position - 1, end)
            wire = tag & 7
            if wire == _LENGTH:
                size = body[position] if position < end else 0x80
                position += 1
                if size > 0x7F:
                    size, position = _varint(body, position - 1, end)
                child = fields.get(tag >> 3)
                if child is None:
                    position += size
                    continue
                seen += 1
                if seen > max_messages:
                    raise TooComplex(f"body holds more than {max_messages} messages")
                if size == 0:
                    continue
                if depth >= max_depth:
                    raise TooComplex(f"body nests deeper than {max_depth} levels", 400)
                if position + size > end:
                    raise TooComplex("body is not valid protobuf: a field is cut short", 400)
                # Come back to the rest of this message after the child.
                stack.append((position + size, end, name))
                stack.append((position, position + size, child))
                break
            if wire == _VARINT:
                _, position = _varint(body, position, end)
            elif wire == _FIXED64:
                position += 8
            elif wire == _FIXED32:
                position += 4
            else:
                raise TooComplex("body is not valid protobuf: groups are not used by OTLP", 400)
        if position > end:
            raise TooComplex("body is not valid protobuf: a field is cut short", 400)


def _varint(body: bytes, position: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= end or shift > 63:
            raise TooComplex("body is not valid protobuf: a number is cut short", 400)
        byte = body[position]
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
