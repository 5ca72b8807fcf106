"""Credentials in source URLs: used to fetch, never stored, logged or shown.

``https://user:token@host/repo.git`` is the most convenient way to name a private
repository and the easiest way to leak a token: into ``bronze.repos.repo_url`` (and from
there silver, gold, lineage), ``ops.ingest_runs.sources``, error rows and log lines. So the
ingest run strips user info from every source as it starts (:func:`public_spec`) and keeps
the credentials in this process's memory only (:func:`remember`), keyed by the public URL;
the fetch of that URL asks for them (:func:`auth_env`) and hands them to git through
environment variables (``GIT_CONFIG_*`` → ``http.extraHeader``), so they reach neither the
clone's ``.git/config`` nor a command line (``ps``). Text that might still quote a URL (git's
own error messages) goes through :func:`redact_credentials`.

Better than a URL with a token: a git credential helper (``git config --global
credential.helper store`` / your platform's helper) or ``GIT_ASKPASS``; git uses them for a
URL without user info, and nothing of the secret passes through codemill at all.
"""

from __future__ import annotations

import base64
import json
import os
import re
from urllib.parse import unquote, urlsplit, urlunsplit

# user info of scheme://user[:password]@host…
_URL_USERINFO_RE = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^/\s@]+)@")
_HTTP_SCHEMES = ("http", "https", "ftp", "ftps")

_credentials: dict[str, tuple[str, str]] = {}

# `codemill submit` hands credentials it took out of a job's command line to the job through
# this environment variable (JSON: public URL -> [user, password]); see :func:`args_without_credentials`.
HANDOVER_ENV = "CODEMILL_SOURCE_CREDENTIALS"


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """(URL without credentials, user, password).

    HTTP(S) URLs lose all user info (a token is often passed as the user name). Other schemes
    (``ssh://git@host/…``) keep a user name without a password: that is an account, not a secret.
    """
    if "://" not in url:
        return url, None, None
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_credentials(url), None, None
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, has_password, password = userinfo.partition(":")
    if parts.scheme.lower() not in _HTTP_SCHEMES and not has_password:
        return url, None, None
    kept = "" if parts.scheme.lower() in _HTTP_SCHEMES else f"{user}@"
    public = urlunsplit((parts.scheme, kept + host, parts.path, parts.query, parts.fragment))
    return public, unquote(user) or None, unquote(password) if has_password else None


def redact_credentials(text: str) -> str:
    """``text`` with the user info of every ``scheme://user:secret@`` URL in it removed."""

    def strip(match: re.Match) -> str:
        scheme, userinfo = match.group(1), match.group(2)
        if scheme.lower().rstrip(":/") not in _HTTP_SCHEMES and ":" not in userinfo:
            return match.group(0)
        return scheme

    return _URL_USERINFO_RE.sub(strip, text or "")


def public_spec(spec: str) -> str:
    """A source spec with its URL's credentials removed and remembered for the fetch."""
    public, user, password = split_userinfo(spec)
    if user or password:
        location = public.partition("#")[0]
        remember(location, user or "", password or "")
    return public


def remember(public_url: str, user: str, password: str) -> None:
    _credentials[public_url] = (user, password)


def has_credentials(public_url: str) -> bool:
    return public_url in _credentials


def auth_env(public_url: str) -> dict[str, str]:
    """Environment variables that make git send the remembered credentials for this URL (or none)."""
    if public_url not in _credentials:
        return {}
    user, password = _credentials[public_url]
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {token}",
    }


def args_without_credentials(args: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """A command line with the user info of every URL in it removed, and what was removed.

    ``spark-submit … --source https://user:token@host/r.git`` would show the token to anyone
    who can run ``ps`` or read the shell history, and ``submit --dry-run`` would print it. The
    returned mapping (public URL -> [user, password]) travels in :data:`HANDOVER_ENV` instead.
    """
    removed: dict[str, list[str]] = {}
    public_args = []
    for arg in args:
        public = arg
        for match in list(_URL_USERINFO_RE.finditer(arg)):
            url = re.split(r"[\s#]", arg[match.start():], maxsplit=1)[0]
            public_url, user, password = split_userinfo(url)
            if user or password:
                removed[public_url] = [user or "", password or ""]
                public = public.replace(url, public_url)
        public_args.append(public)
    return public_args, removed


def remember_handed_over(environ: dict[str, str] | None = None) -> int:
    """Remember the credentials ``codemill submit`` passed in :data:`HANDOVER_ENV`; returns how many.

    The variable is removed from this process's environment once read, so child processes
    (git, Spark executors) never inherit it.
    """
    environ = os.environ if environ is None else environ
    raw = environ.pop(HANDOVER_ENV, None)
    if not raw:
        return 0
    try:
        handed = json.loads(raw)
    except ValueError:
        raise ValueError(f"{HANDOVER_ENV} is not valid JSON; it is set by `codemill submit`") from None
    for public_url, (user, password) in handed.items():
        remember(public_url, user, password)
    return len(handed)
