"""The ``user:password@`` part of a storage URL: refused when it cannot be told from the host, and
masked in every message a database driver writes.

SQLAlchemy reads the password up to the first ``@`` after the user's ``:``, so a raw ``@`` in a
password puts its tail into the host, where a driver's "failed to resolve host" shows it; a raw
``/``, ``?`` or ``#`` makes the URL mean something else to any other reader of it. Such a URL is
refused before any connection. The passwords of the URLs this process opened are remembered,
as given and as parsed, and masked in every driver message (:func:`redact_secrets`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import sqlalchemy.exc
from sqlalchemy.engine import make_url

from tempopt.errors import SpecError

MASK = "***"
# As SQLAlchemy reads a URL: the user up to ":" or "/", the password up to the first "@", then the host.
_USERINFO = re.compile(r"[\w+]+://(?P<user>[^:/]*)(?::(?P<password>[^@]*))?@(?P<host>[^/?]*)", re.DOTALL)
_RAW = ("@", "/", "?", "#")
SHORT = 6
_secrets: set[str] = set()


def check_userinfo(url: str, shown: str) -> None:
    """Refuse a URL whose user or password holds a raw ``@``, ``/``, ``?`` or ``#``.

    Args:
        url: the URL as given.
        shown: the URL with its credentials masked, for the message.

    Raises:
        SpecError: the user name or password must be percent-encoded.
    """
    match = _USERINFO.match(url)
    if match is None:
        return
    userinfo = match["user"] + (":" + match["password"] if match["password"] is not None else "")
    raw = sorted({c for c in _RAW if c in userinfo} | ({"@"} if "@" in match["host"] else set()))
    if raw:
        which = " and ".join(repr(c) for c in raw)
        raise SpecError(
            f"the user name or password of storage {shown!r} holds a raw {which}, which cannot be told from "
            "the host; percent-encode the password (@ as %40, / as %2F, ? as %3F, # as %23)."
        )


def remember_secrets(url: str) -> None:
    """Remember the password of ``url`` (as given, percent-decoded and as SQLAlchemy parsed it), so
    that :func:`redact_secrets` masks it in any message."""
    match = _USERINFO.match(url)
    candidates = set()
    if match is not None and match["password"]:
        candidates |= {match["password"], unquote(match["password"])}
    try:
        parsed = make_url(url).password
    except (sqlalchemy.exc.ArgumentError, ValueError):  # a URL SQLAlchemy cannot read: nothing parsed
        parsed = None
    if parsed:
        candidates.add(str(parsed))
    _secrets.update(c for c in candidates if c)


def redact_secrets(text: str) -> str:
    """``text`` with every remembered password masked, the longest first: anywhere, or a short one
    (under :data:`SHORT` characters) where it stands as a word of its own, so that a password
    ``p`` leaves the other words of the message whole."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if len(secret) >= SHORT:
            text = text.replace(secret, MASK)
        else:
            text = re.sub(rf"(?<![^\W_]){re.escape(secret)}(?![^\W_])", MASK, text)
    return text
