"""Settings of the Great Expectations gates and reports."""

from __future__ import annotations

from data_platform.settings.base import Section


class QualitySettings(Section):
    enabled: bool = True
