"""The session cookie and CSRF tokens of ``service.access`` (the browser tests in tests/ui use
them end to end): signed with the API token, bounded in age, different for each session."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request

from known_faces.service.access import SESSION_COOKIE, SESSION_SECONDS, Access

NOW = 1_800_000_000.0


def test_sessions_are_signed_with_the_token_and_expire() -> None:
    access = Access("the-token", frozenset())
    value = access.new_session(NOW)
    assert access.session_valid(value, NOW + SESSION_SECONDS)
    assert not access.session_valid(value, NOW + SESSION_SECONDS + 1)
    assert not access.session_valid(value, NOW - 10)  # issued in the future
    assert not Access("rotated-token", frozenset()).session_valid(value, NOW)
    issued, _, signature = value.partition(".")
    assert not access.session_valid(f"{int(issued) + 1}.{signature}", NOW)
    for junk in ("", ".", "abc", "١٢٣.x", "9" * 40 + ".x", f"{issued}.\udcff"):
        assert not access.session_valid(junk, NOW)


def test_csrf_tokens_differ_by_session_and_by_way_in() -> None:
    access = Access("the-token", frozenset({"172.30.32.2"}))

    def csrf(cookie: str | None) -> str:
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {}
        return access.csrf_token(make_mocked_request("GET", "/", headers=headers))

    one, two = access.new_session(NOW), access.new_session(NOW + 1)
    assert len({csrf(one), csrf(two), csrf(None)}) == 3
    assert csrf(one) == csrf(one)
