"""PII as real code spells it: URL-encoded userinfo, escaped quotes, mailto:, literals, comments,
keys split across string concatenation; and the allow-list both redaction and the gate share."""

from __future__ import annotations

import pytest

from data_platform.pii import PLACEHOLDERS, find_pii, redact

# (text, a value that must be gone afterwards, the placeholder that replaces it)
ENCODED = [
    # the string that made the gate fail while redaction left it, on a real (non-documentation) host
    ('url = "https://user%3Aname:%23%40%5E@corp-mail.io/x"', "%23%40%5E", "<PASSWORD>"),
    ('DSN = "user%3Aname:%23%40%5E@corp-mail.io"', "%23%40%5E@corp-mail.io", "<EMAIL>"),
    ('contact = "jane%40corp.io"', "jane%40corp.io", "<EMAIL>"),
    ('<a href="mailto:jane.roe@corp.io">mail</a>', "jane.roe@corp.io", "<EMAIL>"),
    ('<a href="mailto:jane.roe%40corp.io">mail</a>', "jane.roe%40corp.io", "<EMAIL>"),
    ('s = "To:\\njane@corp.io"', "jane@corp.io", "<EMAIL>"),
    ('msg = "He said \\"mail jane@corp.io\\" today"', "jane@corp.io", "<EMAIL>"),
    ("msg = 'it\\'s bob@corp.io'", "bob@corp.io", "<EMAIL>"),
    ("# maintained by Bob Smith <bob.smith@corp.io>", "bob.smith@corp.io", "<EMAIL>"),
    ('/* Author: Ann Lee (ann.lee@uni-foo.de) */', "ann.lee@uni-foo.de", "<EMAIL>"),
    ('"""Docstring.\n\nContact: ops-team+alerts@corp.io\n"""', "ops-team+alerts@corp.io", "<EMAIL>"),
    ("// email: jane&#64;corp.io", "jane&#64;corp.io", "<EMAIL>"),
    ('x = "jane\\u0040corp.io"', "jane\\u0040corp.io", "<EMAIL>"),
    ('key = "AKIA" + "QWERTYUIOPASDFGH"', "QWERTYUIOPASDFGH", "<KEY>"),
    ('token = ("ghp_R4nd0mT0k3nV4lu3F0"\n         "rT3st1ngAbCdEf12Zz")', "rT3st1ngAbCdEf12Zz", "<KEY>"),
    ('const t = "xoxb-2648211562-" +\n  "4829302284-Vq8sZn3LpR2mXw7TkY9bHc4D";', "Vq8sZn3LpR2mXw7TkY9bHc4D", "<KEY>"),
    (
        'AWS_SECRET_ACCESS_KEY = "q8Zr1Wm0vYx3Lk9Tn5Bc7" +\n    "Hd2Jf4Gs6Pa1Ee0Rr3u"',
        "Hd2Jf4Gs6Pa1Ee0Rr3u",
        "<KEY>",
    ),
]


@pytest.mark.parametrize("text,secret,placeholder", ENCODED, ids=[f"enc{i}" for i in range(len(ENCODED))])
def test_encoded_pii_is_redacted_and_nothing_is_left_to_find(text, secret, placeholder):
    result = redact(text)
    assert secret not in result.text, result.text
    assert placeholder in result.text
    assert find_pii(result.text) == []


def test_split_key_parts_are_replaced_in_place():
    result = redact('key = "AKIA" + "QWERTYUIOPASDFGH"\n')
    assert result.text == 'key = "<KEY>" + "<KEY>"\n'
    assert {m.detector for m in result.matches} == {"AWSKeyDetector+concat"}


def test_concatenated_look_alikes_stay():
    for text in ('msg = "Hello, " + "world and everyone in it"', 'x = ("abc" "def")', 'p = "a/b" + "/c/d/e/f/g/h/i"'):
        assert redact(text).text == text


ALLOWED = [
    'url = "https://user%3Aname:%23%40%5E@example.com/x"',  # the real-repo string: documentation host
    "user%3Aname:%23%40%5E@example.com",
    'maintainer = "jane@example.com"; other = "a@sub.example.org"; net = "x@example.net"',
    "send to someone@mail.test or nobody@host.invalid",
    'servers = ["192.0.2.10", "198.51.100.7", "203.0.113.99", "2001:db8::1:2:3"]',
    "private = '10.1.2.3'; loopback = '127.0.0.1'",
    "done = '<EMAIL> <IP_ADDRESS> <KEY> <PASSWORD>'",
    'password = "<PASSWORD>"; email = "<EMAIL>"',
    "postgres://app:<PASSWORD>@db.internal:5432/app",
]


@pytest.mark.parametrize("text", ALLOWED)
def test_allow_list_is_left_by_redaction_and_by_detection(text):
    assert find_pii(text) == []
    assert redact(text).text == text


def test_placeholders_are_the_ones_redaction_writes():
    assert set(PLACEHOLDERS.values()) == {"<EMAIL>", "<IP_ADDRESS>", "<KEY>", "<PASSWORD>"}


def test_redaction_repeats_until_nothing_is_left():
    # Replacing the first address puts "IP" on the line, which makes the version-shaped second
    # number address-like; a single pass would leave it for the gate to find.
    text = "use 81.2.69.142 or 1.2.3.44\n"
    assert [m.value(text) for m in find_pii(text)] == ["81.2.69.142"]
    result = redact(text)
    assert result.text == "use <IP_ADDRESS> or <IP_ADDRESS>\n"
    assert result.passes == 2 and result.counts["ip_address"] == 2
    assert find_pii(result.text) == []
