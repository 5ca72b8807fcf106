"""Per-language filters, license policy and the drop-reason precedence."""

from __future__ import annotations

import pytest

from data_platform.filters import DROP_REASONS, filter_reason
from data_platform.settings.refine import FilterSettings, LanguageFilter
from serving.config import load_config

CLEAN = dict(
    language="python",
    text_is_null=False,
    is_binary=False,
    license_class="permissive",
    contamination_match=None,
    size_bytes=2_000,
    is_vendored=False,
    is_generated=False,
    has_encoded_data=False,
    max_line_length=80,
    mean_line_length=30.0,
    alnum_fraction=0.6,
)


@pytest.mark.parametrize(
    "change,reason",
    [
        ({}, None),
        ({"is_binary": True}, "no_text"),
        ({"language": None}, "unknown_language"),
        ({"license_class": "non_permissive"}, "license"),
        ({"contamination_match": "HumanEval/3"}, "contaminated"),
        ({"size_bytes": 0}, "too_small"),
        ({"size_bytes": 2_000_000}, "too_large"),
        ({"is_vendored": True}, "vendored"),
        ({"is_generated": True}, "generated"),
        ({"has_encoded_data": True}, "encoded_data"),
        ({"max_line_length": 1001}, "max_line_length"),
        ({"mean_line_length": 101.0}, "mean_line_length"),
        ({"alnum_fraction": 0.2}, "alnum_fraction"),
        # precedence: the first failing filter is the one recorded
        ({"license_class": "non_permissive", "is_generated": True}, "license"),
    ],
)
def test_bigcode_defaults(change, reason):
    assert filter_reason({**CLEAN, **change}, FilterSettings()) == reason


def test_language_overrides_inherit_unset_thresholds():
    settings = FilterSettings()
    json_row = {
        **CLEAN,
        "language": "json",
        "max_line_length": 5_000,
        "mean_line_length": 900.0,
        "alnum_fraction": 0.15,
    }
    assert filter_reason(json_row, settings) is None
    assert (
        filter_reason({**json_row, "is_generated": True}, settings) == "generated"
    )  # inherited from default
    custom = FilterSettings(languages={"python": LanguageFilter(max_line_length=50)})
    assert filter_reason(CLEAN, custom) == "max_line_length"


def test_language_allow_list_and_license_policy_come_from_config():
    settings = FilterSettings(
        allowed_languages=["rust"], allowed_license_classes=["permissive", "non_permissive"]
    )
    assert filter_reason(CLEAN, settings) == "language_not_allowed"
    settings = FilterSettings(allowed_license_classes=["permissive", "non_permissive"])
    assert filter_reason({**CLEAN, "license_class": "non_permissive"}, settings) is None
    assert filter_reason({**CLEAN, "license_class": "none"}, settings) == "license"


def test_every_reason_is_listed_once():
    assert len(DROP_REASONS) == len(set(DROP_REASONS))


def test_dedup_section_overrides_and_validation():
    config = load_config(overrides=["dedup.threshold=0.8", "dedup.verify=signature"], environ={})
    assert config.dedup.threshold == 0.8 and config.dedup.verify == "signature"
    with pytest.raises(Exception, match="num_perm"):
        load_config(overrides=["dedup.bands=30", "dedup.rows=10"], environ={})
