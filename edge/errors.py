"""Errors a user can act on.

Anything derived from :class:`EdgeError` is printed by the CLI as one clear line
(no traceback) and ends the command with a non-zero exit code.
"""

from __future__ import annotations


class EdgeError(Exception):
    """A problem the user can fix: bad input, missing file, wrong configuration."""

    exit_code = 2


class ConfigError(EdgeError):
    """The configuration file or an environment override is invalid."""


class ModelError(EdgeError):
    """A model file is missing, unreadable or does not match the manifest."""


class ImageError(EdgeError):
    """An image file could not be read or decoded."""


class NotFoundError(EdgeError):
    """A referenced record (recipient, template, file) does not exist."""

    exit_code = 3


class StorageFullError(EdgeError):
    """The disk is too full to accept a new record safely."""

    exit_code = 4
