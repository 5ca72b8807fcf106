"""The data platform's configuration sections; each module is owned by the stage it configures.

They are assembled into :class:`data_platform.config.PlatformConfig`; training and serving
own their sections in their own packages (``training.settings``, ``serving.settings``).
"""
