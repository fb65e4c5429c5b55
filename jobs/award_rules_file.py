"""The award rules file as an operator writes it: the keys it may hold and the range of each,
and its mistakes as one line each. Pure: a mapping in, a model out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import ErrorDetails

from jobs.award_measures import MEASURES

# The most a rules file's threshold may ask: a week of figures at the rollup's cap.
MAX_THRESHOLD = 10**15
# Each category has one winner a week, so nobody can win more badges than there are
# categories: a larger limit changes nothing, and is a typo or a guess at "no limit".
MAX_BADGES = len(MEASURES)
DEFAULT_REWARDS_LINE = (
    "Badges reward steady, accepted, efficient and varied use of AI tools and work that shipped, "
    "never raw volume. "
    "Usage that looks scripted or wasteful is not eligible."
)


class CategoryChanges(BaseModel):
    """The fields of a category an operator may change; strict, so `"5"` is not 5."""

    model_config = ConfigDict(extra="forbid", strict=True)

    title: str | None = None
    emoji: str | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    min_work: int | None = None
    min_active_days: int | None = None
    min_suggestions: int | None = None
    min_tokens: int | None = None
    min_accepted: int | None = None
    min_previous_weeks: int | None = None
    min_shipped: int | None = None
    enabled: bool | None = None

    @field_validator("title")
    @classmethod
    def _named(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("title must not be empty")
        return value

    @field_validator("minimum", "maximum", "min_work", "min_suggestions", "min_tokens",
                     "min_accepted", "min_shipped")  # fmt: skip
    @classmethod
    def _in_range(cls, value: float | None, info: ValidationInfo) -> float | None:
        # A NaN or negative minimum let every week of use win, and the Home read "at least
        # nan days"; past a week's capped figures, nobody could.
        if value is not None and not 0 <= value <= MAX_THRESHOLD:
            raise ValueError(
                f"{info.field_name} must be from 0 to {MAX_THRESHOLD:.0e}, not {value}"
            )
        return value

    @field_validator("min_active_days", "min_previous_weeks")
    @classmethod
    def _days_or_weeks(cls, value: int | None, info: ValidationInfo) -> int | None:
        most = 7 if info.field_name == "min_active_days" else 12  # history_weeks' bound
        if value is not None and not 0 <= value <= most:
            raise ValueError(f"{info.field_name} must be from 0 to {most}, not {value}")
        return value


class RulesFile(BaseModel):
    """The award-rules YAML file."""

    model_config = ConfigDict(extra="forbid", strict=True)

    max_badges_per_person: int = Field(1, ge=1, le=MAX_BADGES)
    history_weeks: int = Field(4, ge=1, le=12)
    rewards_line: str = DEFAULT_REWARDS_LINE
    categories: dict[str, CategoryChanges] | None = None


_RANGES = {
    "max_badges_per_person": (
        f"max_badges_per_person must be a whole number from 1 to {MAX_BADGES} "
        f"(one a category a week: {MAX_BADGES} is no limit)"
    ),
    "history_weeks": "history_weeks must be a whole number from 1 to 12",
}


def problem(error: ErrorDetails) -> str:
    """One pydantic error as a line an operator can act on, naming the key."""
    loc = [str(part) for part in error["loc"]]
    if loc[0] == "categories" and len(loc) >= 2:
        key = loc[1]
        if len(loc) == 2:
            return f"award category {key!r}: expected a mapping of fields"
        if error["type"] == "extra_forbidden":
            return f"award category {key!r}: unknown field {loc[2]!r}"
        if error["type"] == "value_error":
            return f"award category {key!r}: {error['msg'].removeprefix('Value error, ')}"
        return f"award category {key!r}: {loc[2]} has the wrong type"
    if error["type"] == "extra_forbidden":
        return f"unknown award rules key {loc[0]!r}"
    return _RANGES.get(loc[0], f"award rules: {loc[0]}: {error['msg']}")
