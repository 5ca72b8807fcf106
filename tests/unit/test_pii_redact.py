"""PII redaction: planted secrets of each kind go, look-alikes that are not secrets stay."""

from __future__ import annotations

import pytest

from data_platform.pii import PII_TYPES, redact

PLANTED = [
    ('author = "Jane Roe <jane.roe@example-mail.com>"', "email", "jane.roe@example-mail.com"),
    ('SERVER = "203.0.113.7".replace("203.0.113.7", "81.2.69.142")', "ip_address", "81.2.69.142"),
    ("ipv6 = '2a00:1450:4001:81a::200e'", "ip_address", "2a00:1450:4001:81a::200e"),
    ('aws_key_id = "AKIAQWERTYUIOPASDFGH"', "key", "AKIAQWERTYUIOPASDFGH"),
    (
        'AWS_SECRET_ACCESS_KEY = "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"',
        "key",
        "q8Zr1Wm0vYx3Lk9Tn5Bc7Hd2Jf4Gs6Pa1Ee0Rr3u",
    ),
    (
        'GITHUB_TOKEN = "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngAbCdEf12Zz"',
        "key",
        "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngAbCdEf12Zz",
    ),
    (
        'hook = "xoxb-2648211562-4829302284-Vq8sZn3LpR2mXw7TkY9bHc4D"',
        "key",
        "xoxb-2648211562-4829302284-Vq8sZn3LpR2mXw7TkY9bHc4D",
    ),
    ('stripe.api_key = "sk_live_51Hq2xZLp8Vn3Rt6Ym9Wk4Bc7"', "key", "sk_live_51Hq2xZLp8Vn3Rt6Ym9Wk4Bc7"),
    (
        'auth = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.'
        'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"',
        "key",
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    ),
    ('token = "Zq3Xv8Lm2Nw9Rt4Yp6Ks1Hd7Gf5Jb0Cc"', "key", "Zq3Xv8Lm2Nw9Rt4Yp6Ks1Hd7Gf5Jb0Cc"),
    ('db_password = "Tr0ub4dor&3xQ"', "password", "Tr0ub4dor&3xQ"),
    ('DATABASE_URL = "postgres://app:S3cr3tP4ss@db.internal:5432/app"', "password", "S3cr3tP4ss"),
]


@pytest.mark.parametrize("line,kind,secret", PLANTED, ids=[p[1] + str(i) for i, p in enumerate(PLANTED)])
def test_planted_secret_is_replaced_by_its_placeholder(line, kind, secret):
    result = redact(f"import os\n\n{line}\nprint('done')\n")
    assert secret not in result.text
    assert f"<{kind.upper()}>" in result.text
    assert result.counts[kind] >= 1


def test_private_key_block_is_removed_whole():
    key = (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7x1Qv\nq9Zk3Lm8Rt2Yp\n-----END RSA PRIVATE KEY-----"
    )
    result = redact(f'PEM = """{key}"""\nx = 1\n')
    assert "MIIEpAIBAAKCAQEA7x1Qv" not in result.text and result.counts["key"] == 1
    assert result.text.endswith('"""\nx = 1\n')


NOT_SECRETS = [
    '__version__ = "1.2.3.4"',
    "requires = ['numpy>=1.26.4.1']",
    "# see section 8.2.4.44 of the spec",
    'HOST = "192.168.1.20"; LOOPBACK = "127.0.0.1"; DOCS = "10.0.0.1"',
    'run_id = "550e8400-e29b-41d4-a716-446655440000"',
    'commit = "9fceb02d0ae598e95dc970b74767f19372d61af8"',
    'sha256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"',
    'password = os.environ["DB_PASSWORD"]',
    'password = "<your password here>"',
    'name = "ThisIsAVeryLongIdentifierNameWithoutDigits"',
    'icon = "logo@2x.png"',
    'path = "src/data_platform/dedup/near_duplicates"',
    'encoded = b"YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXpBQkNE"',
    'INCORRECT_PASSWD = "Incorrect"',
    "if True:\n    pass\nelse:\n    password_hint = None",
]


@pytest.mark.parametrize("line", NOT_SECRETS)
def test_look_alikes_are_left_alone(line):
    result = redact(line + "\n")
    assert result.text == line + "\n", result.matches
    assert result.total == 0


def test_lockfile_hashes_are_left_alone():
    lock = (
        '[[package]]\nname = "requests"\nversion = "2.32.3"\nfiles = [\n'
        '    {file = "requests-2.32.3.tar.gz", hash = "sha256:55365417734eb18255590a9ff9eb97e9e1da868d4ccd6402399eaf68af20a760"},\n]\n'
        '"integrity": "sha512-q2Vt9sRw5kzMe0HnPb3LJ0c2CnZ0nEukz2rP4zvGf0VZmJ4NfXb6oVbG5a1x0qN5q2Tg1lZ8QeWmH3x7yVn0Ew=="\n'
    )
    for path in (None, "poetry.lock"):
        assert redact(lock, path).text == lock


def test_counts_have_every_type_and_empty_text_is_fine():
    assert set(redact("").counts) == set(PII_TYPES)
    assert redact("x = 1\n").counts == dict.fromkeys(PII_TYPES, 0)
