"""Errors that urbsim raises for bad input.

Every error that reaches a user is an :class:`UrbsimError`. Its message is one line that names
what the user gave (a file, a line, a variable, a flag), what is wrong with it and what is
allowed. The CLI prints that line on stderr and exits with code 2; the app shows it as a notice.

An error raised with a catalogue ``key`` (the errors a scenario file or an upload can meet) is
worded by :func:`urbsim.i18n.error_text` in either language; ``str()`` is its English line.

Example
-------
>>> str(ScenarioError(key="too_deep", where="mine.toml"))
'mine.toml: tables or arrays nested too deeply'
"""

from __future__ import annotations

from typing import Any


class UrbsimError(Exception):
    """Base class: a problem with what the user gave, explained in one line.

    Parameters
    ----------
    message : the English line, for errors without a ``key``.
    key : the message's entry under ``errors.`` in the catalogues of :mod:`urbsim.i18n`.
    where : where the bad input is (``"FILE:LINE"``, ``"--set"``), put in front of the message.
    fields : the values the message names (``name`` is a constant's Vensim name).
    """

    def __init__(
        self, message: str = "", *, key: str | None = None, where: str = "", **fields: Any
    ) -> None:
        self.key, self.where, self.fields = key, where, fields
        if key is not None:
            from urbsim.i18n import error_text

            message = error_text("en", self)
        super().__init__(message)


class ModelError(UrbsimError):
    """The model file cannot be read, parsed or compiled."""


class UnsupportedFeature(ModelError):
    """The model uses a Vensim construct that the fast engine does not support."""


class ScenarioError(UrbsimError):
    """A scenario file or a parameter override is malformed or out of range."""


class ParameterError(ScenarioError):
    """A parameter value has the wrong name, type, shape or range."""


class OutputError(UrbsimError):
    """A result cannot be written where the user asked."""


class ClusterError(UrbsimError):
    """A Dask cluster cannot be started or reached."""
