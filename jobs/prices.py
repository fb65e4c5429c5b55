"""Estimated cost where a source gives tokens or seats but no cost: `AIUSAGE_PRICES`, a YAML
file of prices per tool. Pure: parsing and arithmetic only.

    tools:
      claude-code:
        input_per_million: 3.00     # USD per million input tokens
        output_per_million: 15.00   # USD per million output tokens
      copilot:
        seat_per_month: 19          # USD per active person per month

The daily figures do not keep the model, so prices are per tool.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from jobs.config_files import read_yaml

DAYS_PER_MONTH = 365.25 / 12
_FIELDS = ("input_per_million", "output_per_million", "seat_per_month")


@dataclass(frozen=True, slots=True)
class ToolPrice:
    input_per_million: float = 0.0
    output_per_million: float = 0.0
    seat_per_month: float = 0.0


@dataclass(frozen=True, slots=True)
class Prices:
    tools: Mapping[str, ToolPrice] = field(default_factory=dict)

    def estimate(
        self, tool: str, unpriced_input: int, unpriced_output: int, seat_days: float
    ) -> float:
        """Estimated USD for tokens no source priced, plus `seat_days` of a seat where the
        source gave no cost at all (0 when the tool has no price)."""
        price = self.tools.get(tool)
        if price is None:
            return 0.0
        return (
            unpriced_input * price.input_per_million / 1e6
            + unpriced_output * price.output_per_million / 1e6
            + seat_days * price.seat_per_month / DAYS_PER_MONTH
        )


def load_prices(path: Path | None) -> Prices:
    """The price list at `path`, or no prices; raises ValueError saying what is wrong."""
    if path is None:
        return Prices()
    data = read_yaml(path, "prices") or {}
    tools = data.get("tools") if isinstance(data, Mapping) else None
    if not isinstance(tools, Mapping):
        raise ValueError(f"prices {str(path)!r}: expected `tools:` with a mapping per tool")
    parsed: dict[str, ToolPrice] = {}
    for tool, entry in tools.items():
        if not isinstance(entry, Mapping) or not entry:
            raise ValueError(f"prices for {tool!r}: expected a mapping of {', '.join(_FIELDS)}")
        unknown = set(entry) - set(_FIELDS)
        if unknown:
            raise ValueError(f"prices for {tool!r}: unknown field {sorted(map(str, unknown))[0]}")
        values = {}
        for name, value in entry.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"prices for {tool!r}: {name} must be a number")
            if not math.isfinite(value) or value < 0 or value > 1e6:
                raise ValueError(f"prices for {tool!r}: {name} must be between 0 and 1000000")
            values[name] = float(value)
        parsed[str(tool)] = ToolPrice(**values)
    return Prices(parsed)
