"""The ``user:password@`` part of a storage URL: refused when it cannot be told from the host, and
masked in every message a database driver writes.

SQLAlchemy reads the password up to the first ``@`` after the user's ``:``, so a raw ``@`` in a
password puts its tail into the host, where a driver's "failed to resolve host" shows it; a raw
``/``, ``?`` or ``#`` makes the URL mean something else to any other reader of it. Such a URL is
refused before any connection. The passwords of the URLs this process opened are remembered,
as given and as parsed, and masked in every driver message (:func:`redact_secrets`); a URL
itself is shown with its credentials masked (:func:`redact_url`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

import sqlalchemy.exc
from sqlalchemy.engine import make_url

from tempopt.errors import SpecError

MASK = "***"
# As SQLAlchemy reads a URL: the user up to ":" or "/", the password up to the first "@", then the host.
_USERINFO = re.compile(r"[\w+]+://(?P<user>[^:/]*)(?::(?P<password>[^@]*))?@(?P<host>[^/?]*)", re.DOTALL)
_RAW = ("@", "/", "?", "#")
SHORT = 6
_PASSWORD = re.compile(r"(//[^:/@?#]*:).*@", re.DOTALL)  # "//user:" up to the last "@"
_BARE_PASSWORD = re.compile(r"(^[^:/@?#]*:).*@", re.DOTALL)  # the same without a scheme
# One ``key=value`` of a query: the value runs to the next ``&key=`` (or ``;key=``), so a raw
# ``&`` or ``;`` inside a value that is not followed by another key stays part of it.
_QUERY_PAIR = re.compile(r"([?&;])([^?&;=]*)=(.*?)(?=[&;][^&;=]*=|\Z)", re.DOTALL)
# Query keys whose values are credentials (password, passwd, pwd, sslpassword, sslkey, token,
# secret, api_key, access_token, client_secret, credentials, auth...): matched anywhere in the
# key, case-insensitively, after percent-decoding it (``pass%77ord`` is ``password`` to SQLAlchemy).
_SECRET_KEY = re.compile(r"pass|pwd|secret|token|key|credential|auth", re.IGNORECASE)
_PORT = re.compile(r"\d*(?:[/?]|\Z)")  # "5432/" after "//db:": a port, so no user and no password
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


def redact_url(url: str) -> str:
    """The URL as given with every credential masked, for logs, reports and exports.

    Masks the password of the ``user:password@`` part and the value of every query parameter
    whose key names a credential (``?password=``, ``sslpassword``, ``sslkey``, ``token``,
    ``secret``, ``api_key``, ...; the key is kept, the value becomes ``***``). Host, port,
    database and harmless parameters such as ``sslmode`` stay as they are.

    Works on the text, not on a parse: a malformed URL, or a password with an unescaped ``@``,
    is masked all the same (everything from the user's ``:`` to the last ``@``). Ambiguous text
    is masked rather than shown: a non-secret query value with an ``@`` after a ``user:password``
    part may hide the host too.
    """
    password = _PASSWORD if "//" in url else _BARE_PASSWORD
    cut = url.find("?")
    masked = url if cut < 0 else url[:cut] + _redact_query(url[cut:])
    if password.search(masked):
        return password.sub(rf"\1{MASK}@", masked, count=1)
    user = password.search(url)
    if user and not _PORT.match(url, user.end(1)):  # the password's "@" was in a masked value:
        return url[: user.end(1)] + MASK  # it had a "?" in it, so what follows is no query
    return masked


def _redact_query(query: str) -> str:
    """``query`` (from its ``?``) with the values of credential keys masked."""

    def mask(match: re.Match[str]) -> str:
        sep, key, value = match.groups()
        if not value:
            return match.group(0)
        if _SECRET_KEY.search(unquote_plus(key)):
            return f"{sep}{key}={MASK}"
        return f"{sep}{key}={_redact_query(value)}"  # a value may hide "?password=..." itself

    return _QUERY_PAIR.sub(mask, query)
