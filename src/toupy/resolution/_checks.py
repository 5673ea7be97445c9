"""The package's warning class and the one way an estimator reports a failed assumption.

Every estimator's number rests on assumptions about its input (independent
halves, white noise near Nyquist, a straight edge, ...). When a check on the
input finds one violated, the estimator calls :func:`warn_assumption`: the
sentence is issued as a :class:`ResolutionWarning` (so the command line prints
it on the run's line and writes it into the JSON) *and* appended to the list
the estimator stores in its result's ``warnings`` field, so a notebook user who
filters warnings still finds it on the result.
"""

from __future__ import annotations

import warnings

__all__ = ["ResolutionWarning", "warn_assumption"]


class ResolutionWarning(UserWarning):
    """An assumption of an estimator does not hold on this input; the number may be wrong.

    The message says which assumption failed, what was measured and what to
    do about it. The same sentence is kept in the result's ``warnings``.
    """


def warn_assumption(message: str, record: list | None = None, *, category=ResolutionWarning,
                    stacklevel: int = 3) -> None:
    """Issue ``message`` as a package warning and append it to ``record``.

    Parameters
    ----------
    message : str
        One sentence a scientist can act on: what failed, the measured value,
        what to do.
    record : list, optional
        The estimator's list of warnings (stored in its result); appended to
        unless it already holds the same sentence.
    category : type, optional
        A subclass of :class:`ResolutionWarning` (e.g. ``MTFWarning``).
    stacklevel : int, optional
        Passed to :func:`warnings.warn`; 3 points at the caller of the
        function that calls this one.
    """
    if not issubclass(category, ResolutionWarning):
        raise TypeError(f"category must be a subclass of ResolutionWarning; got {category!r}")
    if record is not None and message not in record:
        record.append(message)
    warnings.warn(message, category, stacklevel=stacklevel)
