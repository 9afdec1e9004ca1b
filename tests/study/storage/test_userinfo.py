"""A storage URL whose user name or password holds a raw ``@``, ``/``, ``?`` or ``#`` is refused
before any connection; a driver's message never shows a password, as given or as parsed."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy.exc

from tempopt.errors import SpecError
from tempopt.study.storage.opening import describe_error, normalise_url
from tempopt.study.storage.userinfo import remember_secrets

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("url", "raw"),
    [
        ("postgresql://u:S3cr3t@tail@127.0.0.1/db", "'@'"),
        ("mysql://u:S3cr3t@tail@127.0.0.1:3306/db", "'@'"),
        ("postgresql://u:pa/ss@127.0.0.1/db", "'/'"),
        ("postgresql://u:pa?ss@127.0.0.1/db", "'?'"),
        ("mariadb://u:pa#ss@127.0.0.1/db", "'#'"),
        ("postgresql://me@corp@127.0.0.1/db", "'@'"),  # a raw "@" in the user name alone
        ("postgresql://db:5432/x?options=a@b", "'/' and '?'"),  # an "@" in the query makes "db" a user
    ],
)
def test_a_raw_separator_in_the_userinfo_is_refused_without_showing_the_password(url, raw):
    with pytest.raises(SpecError) as info:
        normalise_url(url)
    message = str(info.value)
    assert f"holds a raw {raw}" in message and message.endswith(
        "percent-encode the password (@ as %40, / as %2F, ? as %3F, # as %23)."
    )
    for piece in ("S3cr3t", "tail", "pa/ss", "pa?ss", "pa#ss"):
        assert piece not in message


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:S3cr3t%40tail@127.0.0.1/db",  # percent-encoded: what the message asks for
        "postgresql://u@127.0.0.1/db?sslmode=require",
        "sqlite:////tmp/with@sign/study.db",  # an "@" in a path has no user before it
        "mysql://u:p@h/db?ssl_key=/a@b",  # an "@" in the query after a whole userinfo
    ],
)
def test_urls_whose_userinfo_is_unambiguous_pass(url):
    normalise_url(url)


def test_a_driver_message_is_masked_against_the_password_as_given_and_as_parsed():
    remember_secrets("postgresql://u:p%40ss-w0rd@127.0.0.1/db")
    driver = Exception('password "p@ss-w0rd" (p%40ss-w0rd) refused\nsecond line')
    error = sqlalchemy.exc.OperationalError("SELECT 1", {}, driver)
    assert describe_error(error) == 'password "***" (***) refused'


def test_a_short_password_is_masked_where_it_stands_alone_and_the_words_around_it_stay():
    remember_secrets("mysql://u:pw@127.0.0.1/db")
    error = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("pwd pw refused (pw)"))
    assert describe_error(error) == "pwd *** refused (***)"


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
@pytest.mark.parametrize("command", [["status", "--study", "v01"], ["run", "studies/quickstart.yaml"], ["studies"]])
def test_no_command_shows_any_part_of_a_raw_at_password(scheme, command, monkeypatch):
    from typer.testing import CliRunner

    import tempopt.cli  # noqa: F401  registers every command
    from tempopt.cli.app import app

    monkeypatch.chdir(ROOT)
    url = f"{scheme}://u:S3cr3t@tail@127.0.0.1/test"
    result = CliRunner().invoke(app, [*command, "--storage", url])
    assert result.exit_code == 2, result.output
    assert "percent-encode the password" in result.output and "Traceback" not in result.output
    for piece in ("S3cr3t", "tail", "3cr"):
        assert piece not in result.output
