"""Named fault points on the answer path (and between the knowledge index's two commits),
for the crash-injection tests of exactly-once and of what a killed sync leaves behind.

`point(name)` does nothing unless a test armed that name with `crash_at(name)`; then it
raises Crash, which stands for `kill -9` at that instant: it is a BaseException, so no
handler of ours catches it, no apology is sent and the inbox row is never finished, as
when the process dies. The tests then start a new runtime on the same data dir and check
that the question is answered in exactly one message. In production it is one dict lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_armed: dict[str, int] = {}  # point name -> how many more passes before it fires
_errors: dict[str, BaseException] = {}  # what a point raises instead of Crash
_times: dict[str, int] = {}  # point name -> how many more passes crash once it fires


class Crash(BaseException):
    """The process died here (injected by a test)."""


def point(name: str) -> None:
    if not _armed or name not in _armed:
        return
    if _armed[name] > 0:
        _armed[name] -= 1
        return
    _times[name] = _times.get(name, 1) - 1
    if _times[name] <= 0:
        del _armed[name], _times[name]
        raise _errors.pop(name, None) or Crash(name)
    raise _errors.get(name) or Crash(name)


@contextmanager
def crash_at(
    name: str, *, after: int = 0, error: BaseException | None = None, times: int = 1
) -> Iterator[None]:
    """Make the (after+1)-th pass through point `name` crash (or raise `error`, an ordinary
    failure such as a full disk), and the `times - 1` passes after it too, within this block."""
    _armed[name] = after
    _times[name] = times
    if error is not None:
        _errors[name] = error
    try:
        yield
    finally:
        _armed.pop(name, None)
        _errors.pop(name, None)
        _times.pop(name, None)
