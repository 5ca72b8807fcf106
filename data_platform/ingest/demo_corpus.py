"""The default demo corpus: real code that any machine with codemill's prerequisites has.

- a subset of the running interpreter's standard library (Python), one source per package;
- Linux and Python C headers under /usr/include (C);
- the npm installation's own JavaScript (``npm/lib``), when Node.js is installed;
- this project's repository, read from git (Python, YAML, Markdown), when it is a checkout.

About 1,300 files and 11 MB in three-plus languages on a Debian/Ubuntu machine with Python
3.11, Node.js and linux-libc-dev: big enough to show every stage, small enough to crawl and
curate in a couple of minutes on two cores.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

STDLIB_PACKAGES = (
    "asyncio", "email", "json", "importlib", "concurrent", "xml", "http", "urllib", "logging", "unittest",
    "multiprocessing", "sqlite3", "zoneinfo", "tomllib", "wsgiref",
)


def stdlib_sources() -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return [str(root / name) for name in STDLIB_PACKAGES if (root / name).is_dir()]


def c_header_sources() -> list[str]:
    include = Path("/usr/include")
    python = include / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return [str(path) for path in (include / "linux", python) if path.is_dir()]


def npm_sources() -> list[str]:
    npm = shutil.which("npm")
    if not npm:
        return []
    # .../node_modules/npm/bin/npm-cli.js → .../node_modules/npm/lib
    lib = Path(npm).resolve().parent.parent / "lib"
    return [str(lib)] if lib.is_dir() and any(lib.rglob("*.js")) else []


def project_sources() -> list[str]:
    root = Path(__file__).resolve().parents[2]
    return [str(root)] if (root / ".git").exists() else []


def demo_sources() -> list[str]:
    """Every demo source present on this machine, in a stable order."""
    return [*project_sources(), *stdlib_sources(), *c_header_sources(), *npm_sources()]
