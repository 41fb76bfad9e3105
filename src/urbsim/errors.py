"""Errors that urbsim raises for bad input.

Every error that reaches a user is an :class:`UrbsimError`. Its message is one line that names
what the user gave (a file, a line, a variable, a flag), what is wrong with it and what is
allowed. The CLI prints that line on stderr and exits with code 2; the app shows it as a notice.
"""

from __future__ import annotations


class UrbsimError(Exception):
    """Base class: a problem with what the user gave, explained in one line."""


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
