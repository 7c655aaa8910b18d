"""A local stand-in of X's API v2 on a real socket: OAuth 1.0a checks, routes, injected faults."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from oauthlib.oauth1 import SignatureOnlyEndpoint

from appliance.clock import Clock
from appliance.tryout.standins.http_standin import JsonHandler, LoopbackStandin, read_body
from appliance.tryout.standins.x_account import XAccount
from appliance.tryout.standins.x_protocol import (
    CREDITS_DEPLETED,
    DRIP_BYTE_INTERVAL_SECONDS,
    FAULT_KINDS,
    NOT_PERMITTED,
    RATE_LIMIT_POSTS,
    TOO_MANY_REQUESTS,
    UNAUTHORIZED,
    UNAVAILABLE,
    USER_24H_LIMIT_POSTS,
    StandinPost,
    _Answer,
    _problem,
    _same,
    _Validator,
)

log = logging.getLogger(__name__)


class XStandin(LoopbackStandin[StandinPost]):
    """X's API v2 for one app and one user, on a real socket, served from a background thread."""

    label = "X stand-in"
    server_software = "x-standin"
    fault_kinds = FAULT_KINDS
    fault_options = {"429": {"reset_in_seconds", "user_24h"}, "drip": {"byte_interval_seconds"}}

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = Clock(),  # noqa: B008 - frozen, never changed
    ) -> None:
        keys = (consumer_key, consumer_secret, access_token, access_token_secret)
        self._validator = _Validator(keys)
        self._endpoint = SignatureOnlyEndpoint(self._validator)
        super().__init__(host, port, clock)
        self.account = XAccount()  # holds the posts: the base class's stay empty

    # ---- what tests and the CLI look at ------------------------------------------

    @property
    def posts(self) -> list[StandinPost]:
        """The posts now on the stand-in, oldest first (deleted ones are gone)."""
        return self.account.posts

    def spend_credits(self) -> None:
        """The account's credits are spent: every signed request answers 402 until added."""
        self.account.is_out_of_credits = True

    def add_credits(self) -> None:
        self.account.is_out_of_credits = False

    def wait_for_posts(self, n: int, timeout: float) -> bool:
        return self.account.wait_for_posts(n, timeout)

    def inject(
        self, kind: str, count: int = 1, *, for_seconds: float | None = None, **kw: Any
    ) -> None:
        """Answer the next `count` POSTs (or every POST for `for_seconds`) with a fault.

        "429" takes reset_in_seconds (default 900) and user_24h (the 24-hour user limit
        rather than the 15-minute window); "hang" reads the request and never answers;
        "drip" takes byte_interval_seconds.
        """
        self._queue_fault(kind, count, for_seconds, kw)

    # ---- request handling (handler threads) --------------------------------------

    def _serve(self, handler: JsonHandler, method: str) -> None:
        body = read_body(handler)
        if body is None:
            return
        fault = self._next_fault() if method == "POST" else None
        if fault is not None and fault[0] not in ("accept_and_hang", "drip"):
            status, payload, headers = self._fault_answer(*fault)
        elif not self._is_signed(handler, method, body):
            status, payload, headers = 401, UNAUTHORIZED, {}
        elif self.account.is_out_of_credits:
            status, payload, headers = 402, CREDITS_DEPLETED, {}
        else:
            status, payload, headers = self.account.route(method, handler.path, body)
            status = self._late_fault(handler, fault, status, 201, DRIP_BYTE_INTERVAL_SECONDS)
        self._send(handler, status, payload, headers)

    def error_body(self, status: int, phrase: str, message: str) -> Any:
        return _problem(status, phrase, message)

    def _is_signed(self, handler: JsonHandler, method: str, body: bytes) -> bool:
        # Verify against the URL the client reached (and so signed), not api.twitter.com.
        host = handler.headers.get("Host") or "{}:{}".format(*handler.server.server_address[:2])
        uri = f"http://{host}{handler.path}"
        try:
            valid, request = self._endpoint.validate_request(
                uri, method, body.decode("utf-8", "replace"), dict(handler.headers)
            )
        except ValueError:  # oauthlib's answer to a malformed Authorization header
            return False
        # SignatureOnlyEndpoint never checks the token itself, only its secret.
        return valid and _same(request.resource_owner_key, self._validator.access_token)

    def _fault_answer(self, kind: str, kw: dict[str, Any]) -> _Answer:
        if kind != "429":
            simple = {"hang": (0, {}), "503": (503, UNAVAILABLE), "401": (401, UNAUTHORIZED)}
            simple["402"] = (402, CREDITS_DEPLETED)
            status, payload = simple.get(kind, (403, NOT_PERMITTED))
            return status, payload, {}
        reset = str(math.ceil(time.time() + float(kw.get("reset_in_seconds", 900))))
        if not kw.get("user_24h", False):
            limit = {"limit": str(RATE_LIMIT_POSTS), "remaining": "0", "reset": reset}
            return 429, TOO_MANY_REQUESTS, {f"x-rate-limit-{k}": v for k, v in limit.items()}
        # The 24-hour user limit: the 15-minute window still has room.
        headers = self.account.window_headers(time.time())
        limit = {"limit": str(USER_24H_LIMIT_POSTS), "remaining": "0", "reset": reset}
        headers.update({f"x-user-limit-24hour-{k}": v for k, v in limit.items()})
        return 429, TOO_MANY_REQUESTS, headers
