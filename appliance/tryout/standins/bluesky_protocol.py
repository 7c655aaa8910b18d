"""Bluesky's XRPC as the stand-in speaks it: error bodies, tokens, record keys, limits."""

# Sources (each behaviour of the stand-in names one; GUESS marks what none confirms):
#   [lex]   lexicons/com/atproto/server/createSession.json, refreshSession.json,
#           getSession.json, com/atproto/repo/createRecord.json, deleteRecord.json,
#           getRecord.json, app/bsky/feed/post.json (bluesky-social/atproto).
#   [xrpc]  atproto.com/specs/xrpc: an error answer is JSON {"error": Name, "message": ...};
#           400 InvalidRequest, 401 AuthenticationRequired, 429 RateLimitExceeded,
#           500 InternalServerError, 501 MethodNotImplemented.
#   [auth]  packages/pds/src/auth-verifier.ts: an expired access JWT is
#           InvalidRequestError('Token has expired', 'ExpiredToken') (400); a bad one
#           'Token could not be verified', 'InvalidToken' (400).
#   [login] the atproto PDS (its account tests expect the message from createSession): a
#           wrong password is AuthRequiredError('Invalid identifier or password'), 401.
#   [rate]  docs.bsky.app/docs/advanced-guides/rate-limits: 429 with RateLimit-* headers;
#           the SDK (atproto_client/exceptions.py RateLimitExceededError) reads
#           ratelimit-reset as unix seconds and ratelimit-policy as e.g. "100;w=300".
#   [dup]   github.com/bluesky-social/atproto/issues/3718 and bluesky-social/indigo
#           issues/873: createRecord with an rkey that exists answers
#           500 {"error":"InternalServerError","message":"Internal Server Error"};
#           atproto pull request 4728 (open in 2026-03) would give it a named error.
#   [tid]   atproto.com/specs/tid and the SDK's string_formats.TID_RE: 13 characters of
#           base32-sortable, the first one of 234567abcdefghij.

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from appliance.core.bluesky_text import MAX_GRAPHEMES, MAX_TEXT_BYTES, grapheme_length

DEFAULT_PORT = 8090
STANDIN_HANDLE = "standin.bsky.social"
STANDIN_DID = "did:plc:standinstandinstandin00"  # GUESS: shaped like a did:plc, 24 chars
POST_COLLECTION = "app.bsky.feed.post"
ACCESS_LIFETIME_SECONDS = 2 * 60 * 60  # GUESS (from memory of the PDS): 2 hours
REFRESH_LIFETIME_SECONDS = 90 * 24 * 60 * 60  # GUESS (from memory of the PDS): 90 days
# [rate]: a Bluesky PDS limits record writes to 5,000 points an hour, a create costing 3.
RATE_LIMIT_POINTS = 5000
RATE_WINDOW_SECONDS = 60 * 60
CREATE_POINTS, DELETE_POINTS = 3, 1
# "accept_and_hang" stores the record, then never answers (the answer is lost); "drip"
# stores it and answers one byte at a time; "expired_token" answers ExpiredToken to a
# token that is still good (as after the server's clock moved on); "500" as [dup] does.
FAULT_KINDS = (
    "429",
    "500",
    "502",
    "503",
    "401",
    "expired_token",
    "hang",
    "accept_and_hang",
    "drip",
)
DRIP_BYTE_INTERVAL_SECONDS = 0.2
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_PATTERN = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
# [lex] record-key syntax (atproto.com/specs/record-key): 1-512 of these, not "." or "..".
RKEY_PATTERN = re.compile(r"[A-Za-z0-9._:~-]{1,512}")
_Answer = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, extra headers


def xrpc_error(name: str, message: str) -> dict[str, Any]:
    """[xrpc] The body of every error answer."""
    return {"error": name, "message": message}


AUTH_REQUIRED = xrpc_error("AuthenticationRequired", "Authentication Required")
BAD_LOGIN = xrpc_error("AuthenticationRequired", "Invalid identifier or password")  # [login]
EXPIRED_TOKEN = xrpc_error("ExpiredToken", "Token has expired")  # [auth], status 400
INVALID_TOKEN = xrpc_error("InvalidToken", "Token could not be verified")  # [auth], 400
INTERNAL_ERROR = xrpc_error("InternalServerError", "Internal Server Error")  # [dup]
RATE_LIMITED = xrpc_error("RateLimitExceeded", "Rate Limit Exceeded")  # [rate]
UPSTREAM_FAILURE = xrpc_error("UpstreamFailure", "Upstream Failure")  # GUESS: a 502 body
UNAVAILABLE = xrpc_error("NotEnoughResources", "Service Unavailable")  # GUESS: a 503 body
NOT_IMPLEMENTED = xrpc_error("MethodNotImplemented", "Method Not Implemented")  # [xrpc]


@dataclass(frozen=True)
class BlueskyPost:
    """A post record the stand-in holds."""

    rkey: str
    uri: str
    cid: str
    text: str
    facets: list[dict[str, Any]]
    langs: list[str]
    created_at: str  # the record's createdAt, as the client sent it
    received_at: float = field(compare=False)  # time.time() seconds


def tid_from_int(value: int) -> str:
    """[tid] The 13-character base32-sortable form of a 63-bit number."""
    chars = []
    for _ in range(13):
        chars.append(TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_tid(now_seconds: float) -> str:
    """[tid] A fresh TID: microseconds since 1970 over 10 random clock-id bits."""
    return tid_from_int((int(now_seconds * 1_000_000) << 10) | secrets.randbelow(1024))


def record_cid(record: dict[str, Any]) -> str:
    """A CIDv1 (dag-cbor, sha2-256, base32 "b...") of the record.

    GUESS in part: the real CID hashes the record's DAG-CBOR encoding; this one hashes
    its sorted JSON. The shape (bafyrei...) is the real one.
    """
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).digest()
    raw = bytes([0x01, 0x71, 0x12, 0x20]) + digest
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def post_problem(record: Any) -> str:
    """Why a post record breaks app.bsky.feed.post's lexicon [lex], or ""."""
    if not isinstance(record, dict) or record.get("$type") != POST_COLLECTION:
        return f"Invalid {POST_COLLECTION} record: Record/$type must be {POST_COLLECTION}"
    text = record.get("text")
    if not isinstance(text, str):
        return f'Invalid {POST_COLLECTION} record: Record must have the property "text"'
    if not isinstance(record.get("createdAt"), str):
        return f'Invalid {POST_COLLECTION} record: Record must have the property "createdAt"'
    # The PDS's messages for the two text limits (GUESS: wording from memory).
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        return f"Invalid {POST_COLLECTION} record: Record/text must not be longer than 3000 bytes"
    if grapheme_length(text) > MAX_GRAPHEMES:
        return (
            f"Invalid {POST_COLLECTION} record: "
            f"Record/text must not be longer than {MAX_GRAPHEMES} graphemes"
        )
    return ""


class Tokens:
    """Access and refresh JWTs (HS256 over a per-run secret), as the SDK decodes them.

    The SDK reads a token's payload ("exp") to refresh early (atproto_client's
    SessionMethodsMixin._should_refresh_session), so the tokens are real JWTs.
    """

    def __init__(self, did: str) -> None:
        self._did = did
        self._secret = secrets.token_bytes(32)
        self._revoked: set[str] = set()
        self._expired: set[str] = set()  # access tokens the server now calls expired

    def issue(self, now_seconds: float) -> tuple[str, str]:
        access = self._jwt("com.atproto.appPass", now_seconds, ACCESS_LIFETIME_SECONDS)
        refresh = self._jwt("com.atproto.refresh", now_seconds, REFRESH_LIFETIME_SECONDS)
        return access, refresh

    def expire_all(self, tokens: set[str]) -> None:
        self._expired |= tokens

    def revoke(self, token: str) -> None:
        self._revoked.add(token)

    def check(self, token: str, scope: str, now_seconds: float) -> dict[str, Any] | None:
        """None if `token` is good for `scope`, else the error body [auth]."""
        payload = self._verified_payload(token)
        if payload is None or payload.get("scope") != scope or token in self._revoked:
            return INVALID_TOKEN
        if token in self._expired or payload.get("exp", 0) <= now_seconds:
            return EXPIRED_TOKEN
        return None

    def _jwt(self, scope: str, now_seconds: float, lifetime_seconds: int) -> str:
        header = {"typ": "at+jwt" if scope != "com.atproto.refresh" else "refresh+jwt"}
        header["alg"] = "HS256"
        payload = {
            "scope": scope,
            "sub": self._did,
            "aud": "did:web:standin.invalid",
            "iat": int(now_seconds),
            "exp": int(now_seconds) + lifetime_seconds,
            "jti": secrets.token_hex(8),
        }
        signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
        signature = hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + _b64(signature)

    def _verified_payload(self, token: str) -> dict[str, Any] | None:
        try:
            signing_input, signature = token.rsplit(".", 1)
            expected = hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_b64(expected), signature):
                return None
            payload = json.loads(_unb64(signing_input.split(".", 1)[1]))
        except (ValueError, IndexError):
            return None
        return payload if isinstance(payload, dict) else None


def rate_headers(limit: int, remaining: int, reset_unix_seconds: float) -> dict[str, str]:
    """[rate] The four headers a Bluesky PDS sends with a rate-limited route's answers."""
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(0, remaining)),
        "RateLimit-Reset": str(int(reset_unix_seconds)),
        "RateLimit-Policy": f"{limit};w={RATE_WINDOW_SECONDS}",
    }


def iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
