"""User-facing errors: one clear line naming the file and the fix; the CLI exits non-zero."""


class UserError(Exception):
    """Bad input or a missing prerequisite. ``str(err)`` is the one line shown to the user."""
