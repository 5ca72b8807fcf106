"""The base class every configuration section derives from."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    # Unknown keys are typos more often than not: reject them instead of ignoring them.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)
