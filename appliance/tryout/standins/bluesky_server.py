"""A local stand-in of a Bluesky PDS's XRPC (sessions, post records) that the atproto SDK uses."""

from __future__ import annotations

import json
import logging
import math
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qs, urlsplit

from appliance.tryout.standins.bluesky_protocol import (
    AUTH_REQUIRED,
    BAD_LOGIN,
    CREATE_POINTS,
    DELETE_POINTS,
    DRIP_BYTE_INTERVAL_SECONDS,
    EXPIRED_TOKEN,
    FAULT_KINDS,
    INTERNAL_ERROR,
    NOT_IMPLEMENTED,
    POST_COLLECTION,
    RATE_LIMIT_POINTS,
    RATE_LIMITED,
    RATE_WINDOW_SECONDS,
    RKEY_PATTERN,
    STANDIN_DID,
    STANDIN_HANDLE,
    UNAVAILABLE,
    UPSTREAM_FAILURE,
    BlueskyPost,
    Tokens,
    _Answer,
    new_tid,
    post_problem,
    rate_headers,
    record_cid,
    xrpc_error,
)
from appliance.tryout.standins.http_standin import JsonHandler, LoopbackStandin, read_body
from appliance.tryout.standins.x_protocol import _same

log = logging.getLogger(__name__)
_ACCESS_SCOPE, _REFRESH_SCOPE = "com.atproto.appPass", "com.atproto.refresh"


class BlueskyStandin(LoopbackStandin[BlueskyPost]):
    """One account's PDS on a real socket: sign-in with an app password, posts, faults."""

    label = "Bluesky stand-in"
    server_software = "bluesky-standin"
    fault_kinds = FAULT_KINDS
    # Every fault takes nsid: the method it answers (com.atproto.repo.createRecord).
    fault_options = {
        kind: {"nsid"}
        | {"429": {"reset_in_seconds"}, "drip": {"byte_interval_seconds"}}.get(kind, set())
        for kind in FAULT_KINDS
    }

    def __init__(
        self,
        app_password: str,
        handle: str = STANDIN_HANDLE,
        host: str = "127.0.0.1",
        port: int = 0,
        did: str = STANDIN_DID,
    ) -> None:
        self.handle, self.did = handle, did
        self._app_password = app_password
        self._tokens = Tokens(did)
        self._issued_access: set[str] = set()
        super().__init__(host, port)
        self._window_points: deque[tuple[float, int]] = deque()  # (when, points) this hour
        self.requests: list[str] = []  # the NSIDs called, in order (for tests)

    # ---- what tests and the CLI look at ------------------------------------------

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is expired now: its next use gets ExpiredToken."""
        with self._lock:
            self._tokens.expire_all(set(self._issued_access))

    def inject(
        self, kind: str, count: int = 1, *, for_seconds: float | None = None, **kw: Any
    ) -> None:
        """Answer the next `count` calls of `nsid` (or all for `for_seconds`) with a fault.

        `nsid` defaults to com.atproto.repo.createRecord. "429" takes reset_in_seconds
        (default 3600); "hang" reads the request and never answers; "accept_and_hang"
        stores the record, then never answers; "drip" takes byte_interval_seconds.
        """
        kw.setdefault("nsid", "com.atproto.repo.createRecord")
        self._queue_fault(kind, count, for_seconds, kw)

    # ---- request handling (handler threads) --------------------------------------

    def _serve(self, handler: JsonHandler, method: str) -> None:
        body = read_body(handler)
        if body is None:
            return
        target = urlsplit(handler.path)
        nsid = target.path.removeprefix("/xrpc/")
        with self._lock:
            self.requests.append(nsid)
        fault = self._next_fault(lambda kw: kw["nsid"] == nsid)
        if fault is not None and fault[0] not in ("accept_and_hang", "drip"):
            status, payload, headers = self._fault_answer(*fault)
        else:
            status, payload, headers = self._route(method, nsid, handler, body, target.query)
            drip_seconds = DRIP_BYTE_INTERVAL_SECONDS
            status = self._late_fault(handler, fault, status, 200, drip_seconds)
        self._send(handler, status, payload, headers)

    def error_body(self, status: int, phrase: str, message: str) -> Any:
        return xrpc_error("InvalidRequest", message)  # [xrpc]: every answer is JSON, errors too

    def _fault_answer(self, kind: str, kw: dict[str, Any]) -> _Answer:
        if kind == "429":
            reset = math.ceil(time.time() + float(kw.get("reset_in_seconds", 3600)))
            return 429, RATE_LIMITED, rate_headers(RATE_LIMIT_POINTS, 0, reset)
        simple = {
            "hang": (0, {}),
            "500": (500, INTERNAL_ERROR),
            "502": (502, UPSTREAM_FAILURE),
            "503": (503, UNAVAILABLE),
            "401": (401, AUTH_REQUIRED),
            "expired_token": (400, EXPIRED_TOKEN),
        }
        status, payload = simple[kind]
        return status, payload, {}

    def _route(
        self, method: str, nsid: str, handler: JsonHandler, body: bytes, query: str
    ) -> _Answer:
        procedures = {
            "com.atproto.server.createSession": self._create_session,
            "com.atproto.server.refreshSession": self._refresh_session,
            "com.atproto.repo.createRecord": self._create_record,
            "com.atproto.repo.deleteRecord": self._delete_record,
        }
        queries = {
            "com.atproto.server.getSession": self._get_session,
            "com.atproto.repo.getRecord": self._get_record,
        }
        # [xrpc]: a procedure is POST with a JSON body, a query is GET with parameters.
        if method == "POST" and nsid in procedures:
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                data = None
            if not isinstance(data, dict):
                return 400, xrpc_error("InvalidRequest", "Request body is not JSON"), {}
            return procedures[nsid](handler, data)
        if method == "GET" and nsid in queries:
            params = {name: values[0] for name, values in parse_qs(query).items()}
            return queries[nsid](handler, params)
        return 501, NOT_IMPLEMENTED, {}

    def _bearer(self, handler: JsonHandler, scope: str) -> tuple[str, dict[str, Any] | None]:
        """The token a call carries, and the error body if it is not good for `scope`."""
        authorization = handler.headers.get("Authorization") or ""
        if not authorization.startswith("Bearer "):
            return "", AUTH_REQUIRED
        token = authorization.removeprefix("Bearer ").strip()
        with self._lock:
            return token, self._tokens.check(token, scope, time.time())

    def _session_body(self, now_seconds: float) -> dict[str, Any]:
        # [lex] createSession's output; no didDoc, so the SDK keeps talking to this URL
        # (atproto_client's get_session_pds_endpoint follows a didDoc's PDS endpoint).
        with self._lock:
            access, refresh = self._tokens.issue(now_seconds)
            self._issued_access.add(access)
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": self.handle,
            "did": self.did,
            "active": True,
        }

    def _create_session(self, handler: JsonHandler, data: dict[str, Any]) -> _Answer:
        identifier, password = data.get("identifier"), data.get("password")
        if not isinstance(identifier, str) or not isinstance(password, str):
            message = 'Input must have the properties "identifier", "password"'
            return 400, xrpc_error("InvalidRequest", message), {}
        known = identifier.lower().removeprefix("@") in (self.handle.lower(), self.did)
        if not known or not _same(password, self._app_password):
            return 401, BAD_LOGIN, {}
        log.info("session created for @%s", self.handle)
        return 200, self._session_body(time.time()), {}

    def _refresh_session(self, handler: JsonHandler, data: dict[str, Any]) -> _Answer:
        token, problem = self._bearer(handler, _REFRESH_SCOPE)
        if problem is not None:
            return (401 if problem is AUTH_REQUIRED else 400), problem, {}
        with self._lock:
            self._tokens.revoke(token)  # GUESS: the PDS rotates refresh tokens
        return 200, self._session_body(time.time()), {}

    def _get_session(self, handler: JsonHandler, params: dict[str, str]) -> _Answer:
        problem = self._bearer(handler, _ACCESS_SCOPE)[1]
        if problem is not None:
            return (401 if problem is AUTH_REQUIRED else 400), problem, {}
        return 200, {"handle": self.handle, "did": self.did, "active": True}, {}

    def _repo_problem(self, handler: JsonHandler, data: dict[str, Any]) -> _Answer | None:
        problem = self._bearer(handler, _ACCESS_SCOPE)[1]
        if problem is not None:
            return (401 if problem is AUTH_REQUIRED else 400), problem, {}
        if data.get("repo") not in (self.did, self.handle):
            return 400, xrpc_error("InvalidRequest", "Could not find repo"), {}
        if data.get("collection") != POST_COLLECTION:
            # GUESS: the stand-in keeps posts only; a real PDS takes any collection.
            return 400, xrpc_error("InvalidRequest", f"Only {POST_COLLECTION} here"), {}
        rkey = data.get("rkey")
        if rkey is not None and (not isinstance(rkey, str) or not RKEY_PATTERN.fullmatch(rkey)):
            return 400, xrpc_error("InvalidRequest", "Input/rkey must be a valid Record Key"), {}
        return None

    def _create_record(self, handler: JsonHandler, data: dict[str, Any]) -> _Answer:
        refused = self._repo_problem(handler, data)
        if refused is not None:
            return refused
        record = data.get("record")
        problem = post_problem(record)
        if problem:
            return 400, xrpc_error("InvalidRequest", problem), {}
        assert isinstance(record, dict)
        now_seconds = time.time()
        rkey = data.get("rkey") or new_tid(now_seconds)
        uri = f"at://{self.did}/{POST_COLLECTION}/{rkey}"
        with self._posts_changed:
            if rkey in self._posts:
                return 500, INTERNAL_ERROR, {}  # [dup]: what a real PDS answers today
            allowed, headers = self._spend(now_seconds, CREATE_POINTS)
            if not allowed:
                return 429, RATE_LIMITED, headers
            cid = record_cid(record)
            self._posts[rkey] = BlueskyPost(
                rkey=rkey,
                uri=uri,
                cid=cid,
                text=record["text"],
                facets=list(record.get("facets") or []),
                langs=list(record.get("langs") or []),
                created_at=record["createdAt"],
                received_at=now_seconds,
            )
            self._posts_changed.notify_all()
        log.info("post %s: %r", rkey, record["text"])
        commit = {"cid": record_cid({"commit": uri}), "rev": new_tid(now_seconds)}
        answer = {"uri": uri, "cid": cid, "commit": commit, "validationStatus": "valid"}
        return 200, answer, headers

    def _delete_record(self, handler: JsonHandler, data: dict[str, Any]) -> _Answer:
        refused = self._repo_problem(handler, data)
        if refused is not None:
            return refused
        rkey = str(data.get("rkey") or "")
        if not rkey:
            return 400, xrpc_error("InvalidRequest", 'Input must have the property "rkey"'), {}
        with self._posts_changed:
            allowed, headers = self._spend(time.time(), DELETE_POINTS)
            if not allowed:
                return 429, RATE_LIMITED, headers
            # GUESS (memory of the PDS's deleteRecord.ts): a record that is not there
            # is no error; the answer is the same 200.
            gone = self._posts.pop(rkey, None)
            self._posts_changed.notify_all()
        if gone is not None:
            log.info("deleted post %s", rkey)
        return (
            200,
            {"commit": {"cid": record_cid({"delete": rkey}), "rev": new_tid(time.time())}},
            headers,
        )

    def _get_record(self, handler: JsonHandler, params: dict[str, str]) -> _Answer:
        # [lex] getRecord needs no auth; a missing record is 400 RecordNotFound.
        rkey, collection = params.get("rkey", ""), params.get("collection", "")
        if params.get("repo") not in (self.did, self.handle) or not rkey or not collection:
            return 400, xrpc_error("InvalidRequest", "repo, collection and rkey are required"), {}
        with self._lock:
            post = self._posts.get(rkey) if collection == POST_COLLECTION else None
        uri = f"at://{self.did}/{collection}/{rkey}"
        if post is None:
            return 400, xrpc_error("RecordNotFound", f"Could not locate record: {uri}"), {}
        value: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": post.text,
            "createdAt": post.created_at,
        }
        if post.facets:
            value["facets"] = post.facets
        return 200, {"uri": post.uri, "cid": post.cid, "value": value}, {}

    def _spend(self, now_seconds: float, points: int) -> tuple[bool, dict[str, str]]:
        """Whether a write of `points` fits this hour (then it is spent), and the headers.

        Call with the lock held: a sliding hour over the points spent on writes [rate].
        """
        window = self._window_points
        while window and window[0][0] <= now_seconds - RATE_WINDOW_SECONDS:
            window.popleft()
        spent = sum(p for _, p in window)
        allowed = spent + points <= RATE_LIMIT_POINTS
        if allowed:
            window.append((now_seconds, points))
            spent += points
        reset = (window[0][0] if window else now_seconds) + RATE_WINDOW_SECONDS
        headers = rate_headers(RATE_LIMIT_POINTS, RATE_LIMIT_POINTS - spent, math.ceil(reset))
        return allowed, headers
