"""codemill's command-line front end; it wires the data platform and training sides."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("codemill")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
