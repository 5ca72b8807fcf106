"""PII redaction: recall on generated planted secrets per type, false positives on real code.

Recall: real code files (CPython standard library) each get one generated secret of one
kind planted in a typical assignment or URL; a hit means the planted value is gone and the
right placeholder appears. False positives: the same files untouched, counting files in
which anything is redacted. The standard library holds genuine author emails (and a few
example IPs), so the rate is reported per type and overall for keys + passwords, the
types where every hit on this corpus is a false alarm.

    .venv/bin/python benchmarks/pii.py [--files 2000] [--plants 400]
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_corpus import load_corpus  # noqa: E402

from data_platform.pii import redact  # noqa: E402

ALNUM = string.ascii_letters + string.digits


def _random(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _mixed(rng: random.Random, length: int) -> str:
    """Random token that has upper, lower and digits (as real keys do)."""
    while True:
        value = _random(rng, ALNUM, length)
        if (
            any(c.isupper() for c in value)
            and any(c.islower() for c in value)
            and any(c.isdigit() for c in value)
        ):
            return value


def _public_ipv4(rng: random.Random) -> str:
    import ipaddress

    while True:
        value = ".".join(str(rng.randint(11, 223)) for _ in range(4))
        if ipaddress.ip_address(value).is_global:
            return value


def _jwt(rng: random.Random) -> str:
    import base64

    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': _random(rng, string.digits, 8)})}.{_mixed(rng, 43)}"


def plant(kind: str, rng: random.Random) -> tuple[str, str, str]:
    """(line of code, planted value, expected pii type)."""
    user = _random(rng, string.ascii_lowercase, rng.randint(4, 9))
    if kind == "email":
        value = (
            f"{user}.{_random(rng, string.ascii_lowercase, 5)}@{_random(rng, string.ascii_lowercase, 6)}.com"
        )
        return f"# Maintainer: {user.title()} <{value}>", value, "email"
    if kind == "ip_address":
        value = _public_ipv4(rng)
        return f'UPSTREAM_HOST = "{value}"', value, "ip_address"
    if kind == "aws":
        value = "AKIA" + _random(rng, string.ascii_uppercase + string.digits, 16)
        return f'aws_access_key_id = "{value}"', value, "key"
    if kind == "github":
        value = "ghp_" + _mixed(rng, 36)
        return f'GITHUB_TOKEN = "{value}"', value, "key"
    if kind == "slack":
        value = f"xoxb-{_random(rng, string.digits, 11)}-{_random(rng, string.digits, 12)}-{_mixed(rng, 24)}"
        return f'SLACK_BOT = "{value}"', value, "key"
    if kind == "stripe":
        value = "sk_live_" + _mixed(rng, 24)
        return f'stripe.api_key = "{value}"', value, "key"
    if kind == "jwt":
        value = _jwt(rng)
        return f'headers = {{"Authorization": "Bearer {value}"}}', value, "key"
    if kind == "private_key":
        body = "\n".join(_random(rng, ALNUM + "+/", 64) for _ in range(4))
        value = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
        return f'KEY = """{value}"""', body.splitlines()[1], "key"
    if kind == "high_entropy":
        value = _mixed(rng, 40)
        return f'client_token = "{value}"', value, "key"
    if kind == "password":
        value = _mixed(rng, 10) + rng.choice("!@#%&*")
        return f'DB_PASSWORD = "{value}"', value, "password"
    if kind == "url_password":
        value = _mixed(rng, 12)
        return f'DSN = "postgresql://{user}:{value}@db.{user}.io:5432/app"', value, "password"
    raise ValueError(kind)


KINDS = (
    "email",
    "ip_address",
    "aws",
    "github",
    "slack",
    "stripe",
    "jwt",
    "private_key",
    "high_entropy",
    "password",
    "url_password",
)


def recall(files: list[str], plants: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    out = {}
    for kind in KINDS:
        found = 0
        for i in range(plants):
            text = files[i % len(files)]
            line, value, expected = plant(kind, rng)
            lines = text.splitlines()
            at = rng.randint(0, len(lines))
            planted = "\n".join(lines[:at] + [line] + lines[at:]) + "\n"
            result = redact(planted)
            found += value not in result.text and result.counts[expected] > 0
        out[kind] = round(found / plants, 4)
    return out


def false_positives(files: list[str]) -> dict:
    per_type = dict.fromkeys(("email", "ip_address", "key", "password"), 0)
    secret_files = 0
    start = time.process_time()
    for text in files:
        counts = redact(text).counts
        for kind, n in counts.items():
            per_type[kind] += n > 0
        secret_files += counts["key"] + counts["password"] > 0
    cpu = time.process_time() - start
    total_bytes = sum(len(t) for t in files)
    return {
        "files": len(files),
        "files_with_hits_per_type": {k: round(v / len(files), 4) for k, v in per_type.items()},
        "false_positive_rate_keys_passwords": round(secret_files / len(files), 4),
        "mb_per_cpu_s": round(total_bytes / 1e6 / cpu, 2),
        "files_per_cpu_s": round(len(files) / cpu, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--plants", type=int, default=400)
    args = parser.parse_args()
    files = [text for _, text in load_corpus(args.files)]
    rec = recall(files, args.plants)
    result = {
        "recall_per_kind": rec,
        "recall_min": min(rec.values()),
        "clean_code": false_positives(files),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
