"""codemill: the command-line package (``codemill`` console script)."""

from data_platform.ops.runs import package_version

__version__ = package_version()
