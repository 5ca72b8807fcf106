"""Path-aware redaction (secret files), pii.enabled, and masking of what reports show."""

from __future__ import annotations

import json

import pytest

from data_platform.ingest.curate import CurateLimits, curate_file
from data_platform.pii import find_pii, redact, secret_file_kind
from data_platform.quality.results import outcome_from_ge, safe_excerpt
from data_platform.quality.scrub import safe_example, scrub_tree, secrets_of_results

AWS_KEY = "AKIAZ7Q3W5E2R4T6Y8U1"
PASSWORD = "Tr0ub4dor&3-horse"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (".env", "credentials"),
        ("svc/.env.production", "credentials"),
        (".env.example", None),
        ("home/.ssh/id_rsa", "key"),
        ("home/.ssh/id_ed25519", "key"),
        ("certs/server.PEM", "key"),
        ("gcp/credentials.json", "credentials"),
        (".netrc", "credentials"),
        ("src/env.py", None),
        ("docs/credentials.md", None),
    ],
)
def test_secret_file_kind_by_name(path, kind):
    assert secret_file_kind(path) == kind


@pytest.mark.parametrize(
    ("path", "text", "secrets"),
    [
        (".env", "DB_PASSWORD=hunter2\nexport TOKEN='plain words'\n# DEBUG=1\n", ["hunter2", "plain words"]),
        ("deploy/id_rsa", "-----BEGIN WEIRD KEY-----\nQUJDREVGR0g=\n-----END WEIRD KEY-----\n", ["QUJDREVGR0g="]),
        ("tls/server.pem", "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n", ["MIIBOgIBAAJBAKj3"]),
        ("gcp/credentials.json", '{"client_secret": "abc", "refresh_token": "1//0g-xyz"}', ["abc", "1//0g-xyz"]),
        (".netrc", "machine host login alice password wonderland9\n", ["alice", "wonderland9"]),
        (".git-credentials", "https://bob:ghs_notreal@git.corp.local\n", ["bob:ghs_notreal"]),
    ],
)
def test_secret_files_are_redacted_whatever_their_values_look_like(path, text, secrets):
    result = redact(text, path)
    for secret in secrets:
        assert secret not in result.text
    assert result.total >= 1
    assert find_pii(result.text, path) == []  # the gate agrees with the redactor
    if path != ".git-credentials":  # a URL with user info is a finding anywhere (basic-auth detector)
        # the same text under an ordinary name keeps values that are not shaped like secrets
        assert any(secret in redact(text, "notes.txt").text for secret in secrets)


def test_template_env_files_keep_their_placeholders():
    assert redact("DB_PASSWORD=changeme\n", ".env.example").text == "DB_PASSWORD=changeme\n"


def test_curation_passes_the_path_and_honours_pii_enabled():
    content = b"DB_PASSWORD=hunter2\nAPI_URL=https://api.corp.local\n"
    redacted = curate_file("r", "/r", "c", "service/.env", content, "b", None)
    assert "hunter2" not in redacted.silver["text"] and redacted.silver["pii_password_count"] == 1
    kept = curate_file("r", "/r", "c", "service/.env", content, "b", None, CurateLimits(redact_pii=False))
    assert "hunter2" in kept.silver["text"]
    assert kept.silver["pii_password_count"] == 1  # measured, not replaced


def test_safe_example_masks_pattern_matches_and_pii():
    value = f"aws = '{AWS_KEY}'  # owner jane.roe@corp-mail.io\nline two"
    shown = safe_example(value, [r"AKIA[0-9A-Z]{16}"])
    assert AWS_KEY not in shown and "jane.roe@corp-mail.io" not in shown
    assert "AK…(20 chars)" in shown
    # an excerpt never shows a secret, even cut at its edge
    long = "x = 1\n" * 40 + f"token = '{AWS_KEY}'\n" + "y = 2\n" * 40
    for limit in (10, 20, 33, 80):
        excerpt = safe_excerpt(long, [r"AKIA[0-9A-Z]{16}"], limit)
        assert AWS_KEY[:8] not in excerpt


def _failing_ge_result(values: list[str]) -> dict:
    return {
        "success": False,
        "expectation_config": {
            "type": "expect_column_values_to_not_match_regex_list",
            "kwargs": {"column": "text", "regex_list": [r"AKIA[0-9A-Z]{16}"]},
        },
        "result": {
            "unexpected_count": len(values),
            "element_count": 10,
            "partial_unexpected_list": values,
            "partial_unexpected_index_list": [{"doc_id": f"d{i}", "text": v} for i, v in enumerate(values)],
            "partial_unexpected_counts": [{"value": v, "count": 1} for v in values],
        },
    }


def test_ge_outcomes_never_repeat_the_failing_secret():
    result = _failing_ge_result([f"KEY = '{AWS_KEY}'\n", f"password = '{PASSWORD}'\n"])
    outcome = outcome_from_ge(result, "semantic", 3, 80)
    described = outcome.describe()
    assert outcome.examples and AWS_KEY not in described and PASSWORD not in described
    assert "doc_id=d0" in described  # the rows are still named


def test_scrub_tree_replaces_every_rendering(tmp_path):
    raw = f"KEY = \"{AWS_KEY}\" & <b>x</b>\npassword = '{PASSWORD}'\n"
    secrets = secrets_of_results([_failing_ge_result([raw])])
    assert {AWS_KEY, PASSWORD} <= secrets
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.html").write_text(f"<td>{raw.replace('&', '&amp;').replace('<', '&lt;')}</td>")
    (tmp_path / "result.json").write_text(json.dumps({"partial_unexpected_list": [raw]}))
    (tmp_path / "image.png").write_bytes(b"\x89PNG" + AWS_KEY.encode())  # binary files are not touched
    changed = scrub_tree(tmp_path, secrets)
    assert {p.name for p in changed} == {"index.html", "result.json"}
    for name in ("docs/index.html", "result.json"):
        text = (tmp_path / name).read_text()
        assert AWS_KEY not in text and PASSWORD not in text


@pytest.mark.parametrize(
    ("overrides", "license_class", "spdx", "admitted"),
    [
        ((), "permissive", "MIT", True),
        ((), "none", None, False),  # no license file: all rights reserved, out by default
        ((), "non_permissive", "LGPL-2.1-only", False),
        ((), "non_permissive", "GPL-3.0-only", False),
        (("filters.allow_weak_copyleft=true",), "non_permissive", "LGPL-2.1-only", True),
        (("filters.allow_weak_copyleft=true",), "non_permissive", "MPL-2.0", True),
        (("filters.allow_weak_copyleft=true",), "non_permissive", "GPL-3.0-only", False),
        (("filters.allowed_licenses=[EPL-2.0]",), "non_permissive", "EPL-2.0", True),
        (("filters.allowed_license_classes=[permissive,none]",), "none", None, True),
    ],
)
def test_default_license_policy_keeps_permissive_only(overrides, license_class, spdx, admitted, tmp_path):
    from data_platform.filters import filter_reason
    from data_platform.quality.suites import suite_parameters
    from tests.conftest import make_config

    config = make_config(tmp_path, *overrides)
    row = {"language": "python", "text_is_null": False, "is_binary": False, "size_bytes": 100,
           "max_line_length": 20, "mean_line_length": 10.0, "alnum_fraction": 0.6,
           "license_class": license_class, "license_spdx": spdx}
    assert (filter_reason(row, config.filters) != "license") is admitted
    if admitted:  # the gate's value set agrees with the filter, or an admitted file would fail it
        assert license_class in suite_parameters(config)["license_classes"]
