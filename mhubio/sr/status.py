"""The document status every SR of the zoo states: complete, final, unverified.

- Completion Flag ``COMPLETE``: the SR holds every result the algorithm produced for the series (what was left
  out, e.g. features without a code, is named in the run report).
- Preliminary Flag ``FINAL``: the algorithm will not revise the document; a later run makes a new SR.
- Verification Flag ``UNVERIFIED``: no person has checked it.  A reviewer who accepts the results records that in
  a new, verified SR; ours never claims a verification.
"""

from __future__ import annotations

from typing import Final

__all__ = ["IS_COMPLETE", "IS_FINAL", "IS_VERIFIED"]

IS_COMPLETE: Final = True
IS_FINAL: Final = True
IS_VERIFIED: Final = False
