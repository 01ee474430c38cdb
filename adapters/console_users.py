"""Who is at the terminal: the asker, and the staff member the same terminal plays.

One terminal plays both parts, and the core tells them apart by identity (who may rate a
ticket, whose reply takes over a thread): it owns the asker's identity (`[console] user`,
with a name that reads in a third-person sentence) and the staff member's, distinct from
the asker's. adapters/console.py's session types as one or the other.
"""

from __future__ import annotations

import getpass

from bot.types import Author

DEFAULT_USER = "you"  # `[console] user` when unset: an id, not a name to put in a sentence
FALLBACK_NAME = "console user"
STAFF_NAME = "Support staff"  # the default staff id "staff" reads badly in "staff is looking at this"


def console_user(configured: str = DEFAULT_USER) -> Author:
    """The asker at the terminal. The id stays what `[console] user` says (staff lists and
    tickets name it); the display name goes into third-person sentences ("{who} is looking at
    this now", "{who} asked: ..."), so the default "you" is replaced by the OS user name."""
    if configured != DEFAULT_USER:
        return Author(id=configured, name=configured)
    try:
        name = getpass.getuser().strip()
    except (OSError, KeyError, ImportError):  # no login name in a bare container
        name = ""
    return Author(id=configured, name=name or FALLBACK_NAME)


def console_staff(staff_users: tuple[str, ...], asker: Author) -> Author:
    """The support-team member who runs `/support` commands at the terminal: one of
    `[console] staff_users` (so the core counts them as staff), never the asker, so that
    resolving a ticket asks the asker, not the resolver, "How did we do?"."""
    staff_id = next((user for user in staff_users if user != asker.id), "staff")
    if staff_id == asker.id:
        staff_id = f"{asker.id}-staff"
    return Author(id=staff_id, name=STAFF_NAME if staff_id == "staff" else staff_id)
