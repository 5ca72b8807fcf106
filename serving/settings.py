"""Settings of `codemill serve`: the ``serve`` section of the one config model.

The model itself lives in ``data_platform.settings.serve`` for now (the root config
composes every section, and data_platform must not import serving).
"""

from data_platform.settings.serve import API_KEYS_ENV, ServeSettings

__all__ = ["API_KEYS_ENV", "ServeSettings"]
