"""JSON read as orjson reads it, except for numbers it cannot hold. JSON's grammar allows any
exponent and any count of digits; orjson refuses a number past a 64-bit float ("number is
infinity") and so failed a whole batch or report for one item's value. Pure: text in, values
out."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pydantic_core


def loads(body: bytes | str) -> Any:
    """The document's values; a number past a float is read as an infinity, a long integer
    as itself (past 4,300 digits as an infinity), so the item holding it is refused by name
    by its own checks. Raises orjson.JSONDecodeError, with orjson's message, for anything
    else orjson refuses."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as refused:
        # pydantic-core's parser refuses what orjson refuses (bad UTF-8, lone surrogates,
        # NaN, trailing commas) but reads such numbers, up to 4,300 digits.
        try:
            return pydantic_core.from_json(body, allow_inf_nan=False)
        except ValueError as again:
            if not str(again).startswith("number out of range"):
                raise refused from None
        try:
            return _loads_long_digits(body)
        except ValueError:
            raise refused from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads_long_digits(body: bytes | str) -> Any:
    # Python's json reads any count of digits through _whole_or_float, but on its own takes
    # NaN and Infinity, other encodings than UTF-8, and lone surrogates, all of which
    # orjson refuses: each is refused here too, so this path changes only the numbers.
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    try:
        values = _LONG_DIGITS_DECODER.decode(text)
        # Encoding back refuses a lone surrogate anywhere in the document's strings.
        json.dumps(values, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        raise ValueError("nested too deeply") from None
    return values


def _whole_or_float(digits: str) -> int | float:
    # More than 4,300 digits make Python's int() raise (CVE-2020-10735): as a float, an
    # infinity that the item's own checks refuse.
    return int(digits) if len(digits) <= 4300 else float(digits)


# For `raw_decode` of Python's json where its default int() raised ValueError on an item.
LONG_INT_DECODER = json.JSONDecoder(parse_int=_whole_or_float)
_LONG_DIGITS_DECODER = json.JSONDecoder(parse_int=_whole_or_float, parse_constant=_refuse_constant)
