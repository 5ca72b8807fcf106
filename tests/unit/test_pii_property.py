"""Property: on real files nobody here wrote, with PII planted in every encoding, redaction
leaves nothing that detection (the gold gate's detector) would find, and removes every plant.

Files come from the installed packages (a deterministic sample across file types); plants are
generated from a fixed seed and inserted at random lines, alone or several per file.
"""

from __future__ import annotations

import random
import string
import sysconfig
from pathlib import Path

import pytest

from data_platform.pii import find_pii, redact

SITE = Path(sysconfig.get_paths()["purelib"])
SUFFIXES = (".py", ".js", ".json", ".md", ".txt", ".cfg", ".toml", ".yaml", ".html", ".c", ".h", ".rst", ".pyi")
FILES_PER_SUFFIX = 18
LOWER = string.ascii_lowercase


def _sample_files() -> list[Path]:
    rng = random.Random(11)
    chosen = []
    for suffix in SUFFIXES:
        paths = sorted(p for p in SITE.glob(f"*/**/*{suffix}") if p.is_file() and p.stat().st_size < 100_000)
        chosen += rng.sample(paths, min(FILES_PER_SUFFIX, len(paths)))
    return chosen


def _word(rng, n=None):
    return "".join(rng.choice(LOWER) for _ in range(n or rng.randint(4, 9)))


def _mixed(rng, n):
    while True:
        value = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))
        if any(c.isdigit() for c in value) and any(c.isupper() for c in value) and any(c.islower() for c in value):
            return value


def _plant(rng) -> tuple[str, str]:
    """(line to insert, value that must be gone after redaction)."""
    user, host = _word(rng), f"{_word(rng)}-{_word(rng)}.io"
    email = f"{user}.{_word(rng)}@{host}"
    secret = _mixed(rng, 12) + "%40"
    aws = "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    gh = "ghp_" + _mixed(rng, 36)
    choices = [
        (f"# Maintainer: {user.title()} <{email}>", email),
        (f'contact = "mailto:{email}"', email),
        (f'quoted = "say \\"{email}\\" please"', email),
        (f"encoded = '{user}%40{host}'", f"{user}%40{host}"),
        (f'url = "https://{user}%3Aname:{secret}@{host}/repo"', secret),
        (f'raw = "{user}%3Aname:%23%40%5E@{host}"', f"%23%40%5E@{host}"),
        (f"html = '{user}&#64;{host}'", f"{user}&#64;{host}"),
        (f'key = "{aws[:4]}" + "{aws[4:]}"', aws[4:]),
        (f'token = ("{gh[:20]}"\n    "{gh[20:]}")', gh[20:]),
        (f'UPSTREAM_HOST = "81.{rng.randint(11, 99)}.{rng.randint(11, 99)}.{rng.randint(11, 99)}"', None),
        (f'db_password = "{_mixed(rng, 10)}!"', None),
    ]
    line, value = rng.choice(choices)
    if value is None:  # the value is whatever sits between the quotes
        value = line.split('"')[1]
    return line, value


def _planted_cases(count: int = 4):
    rng = random.Random(5)
    for path in _sample_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        lines = text.splitlines()
        plants = [_plant(rng) for _ in range(rng.randint(1, count))]
        for line, _ in plants:
            lines.insert(rng.randint(0, len(lines)), line)
        yield path, "\n".join(lines) + "\n", [value for _, value in plants]


CASES = list(_planted_cases())


def test_sample_is_large_and_varied():
    assert len(CASES) >= 150
    assert len({path.suffix for path, _, _ in CASES}) >= 10


@pytest.mark.parametrize("with_path", [True, False], ids=["with-path", "without-path"])
def test_redacted_real_files_hold_nothing_detection_finds(with_path):
    leftovers, kept = [], []
    for path, text, values in CASES:
        name = str(path) if with_path else None
        result = redact(text, name)
        left = find_pii(result.text, name)
        if left:
            leftovers.append((path.name, [(m.kind, m.value(result.text)) for m in left]))
        kept += [(path.name, v) for v in values if v in result.text]
    assert not leftovers, leftovers[:5]
    assert not kept, kept[:5]


def test_untouched_real_files_are_fixpoints_after_one_redaction():
    for path, _, _ in CASES[::3]:
        text = path.read_text(encoding="utf-8")
        once = redact(text, str(path)).text
        assert redact(once, str(path)).text == once
