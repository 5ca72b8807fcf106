"""Per-stage configuration sections; each module is owned by the stage it configures.

They are assembled into one model in :mod:`data_platform.config`.
"""
