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
    as itself, so the item holding it is refused by name by its own checks. Raises
    orjson.JSONDecodeError, with orjson's message, for anything else orjson refuses."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as refused:
        # pydantic-core's parser refuses what orjson refuses (bad UTF-8, lone surrogates,
        # NaN, trailing commas) but reads such numbers.
        try:
            return pydantic_core.from_json(body, allow_inf_nan=False)
        except ValueError:
            raise refused from None


def _whole_or_float(digits: str) -> int | float:
    # More than 4,300 digits make Python's int() raise (CVE-2020-10735): as a float, an
    # infinity that the item's own checks refuse.
    return int(digits) if len(digits) <= 4300 else float(digits)


# For `raw_decode` of Python's json where its default int() raised ValueError on an item.
LONG_INT_DECODER = json.JSONDecoder(parse_int=_whole_or_float)
