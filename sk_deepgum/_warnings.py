"""Where the package's warnings point: at the user's line, not at a wrapper."""

from __future__ import annotations

import os
import sys

import sklearn

#: Frames in these folders are the package's or scikit-learn's, not the user's.
_LIBRARY_DIRS = tuple(
    os.path.dirname(module.__file__) + os.sep
    for module in (sklearn, sys.modules[__package__])
)


def user_stacklevel() -> int:
    """``stacklevel`` for a ``warnings.warn`` in the calling function that attributes
    the warning to the first frame outside this package and scikit-learn: the user's
    call, however many wrappers (``_fit_context``, data-parallel helpers) lie between."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
        frame, level = frame.f_back, level + 1
    return level
