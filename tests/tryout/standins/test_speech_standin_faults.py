"""The stand-in's teeth: its limits and the faults tests inject, seen from a plain client."""

from __future__ import annotations

import pytest
import websocket
from websocket import ABNF

from appliance.clock import Clock
from appliance.tryout.standins.speech_server import SpeechStandin
from tests.conftest import SteppedClock, wait_until
from tests.tryout.standins.test_speech_standin import KEY, QUERY, connect, errored, make_standin  # noqa: F401

TIMEOUT_SECONDS = 5.0


def raw(srv: SpeechStandin) -> websocket.WebSocket:
    return websocket.create_connection(
        f"{srv.url}?{QUERY}", header={"Authorization": KEY}, timeout=TIMEOUT_SECONDS
    )


def test_more_new_sessions_per_minute_than_allowed_are_refused(make_standin):  # noqa: F811
    srv = make_standin(sessions_per_minute=2)
    first, second = connect(make_standin, srv), connect(make_standin, srv)
    assert first.message()["type"] == "Begin" and second.message()["type"] == "Begin"
    # The concurrency FAQ: Error 1008 "Too many concurrent sessions", then close 1008.
    third = connect(make_standin, srv)
    assert errored(third) == (1008, "Unauthorized connection: Too many concurrent sessions")
    assert srv.refused_opens == 1 and len(srv.sessions) == 3


def test_an_outage_answers_503_then_ends(make_standin):  # noqa: F811
    monotonic = SteppedClock(1000.0)  # the handshakes may take their time: its own clock
    srv = make_standin(clock=Clock(monotonic=monotonic))
    srv.refuse_for(0.5)
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        raw(srv)
    assert refused.value.status_code == 503
    monotonic.now += 0.4
    with pytest.raises(websocket.WebSocketBadStatusException):
        raw(srv)
    monotonic.now += 0.1
    ws = raw(srv)
    assert '"Begin"' in ws.recv()
    ws.close()


def test_a_stalled_session_answers_no_ping_and_keeps_tcp_open(make_standin):  # noqa: F811
    srv = make_standin()
    ws = raw(srv)
    assert '"Begin"' in ws.recv()
    ws.ping(b"before")
    opcode, frame = ws.recv_data_frame(True)
    assert opcode == ABNF.OPCODE_PONG
    srv.stall_all()
    assert wait_until(lambda: srv.sessions[0].is_stalled, TIMEOUT_SECONDS)
    ws.ping(b"after")
    ws.settimeout(1.0)
    with pytest.raises(websocket.WebSocketTimeoutException):
        ws.recv_data_frame(True)  # no pong, no close, no RST: a half-open connection
    ws.send_binary(bytes(1600))  # and it still takes what we send
    ws.shutdown()


@pytest.mark.parametrize("frame", ["{not json", '{"type": "Novel"}', "x" * 300_000])
def test_inject_sends_any_frame(make_standin, frame):  # noqa: F811
    srv = make_standin()
    ws = raw(srv)
    assert '"Begin"' in ws.recv()
    srv.inject(frame)
    assert ws.recv() == frame
    ws.close()


def test_slow_answers_are_still_answers(make_standin):  # noqa: F811
    srv = make_standin()
    srv.set_reply_delay(0.3)
    ws = raw(srv)
    assert '"Begin"' in ws.recv()
    ws.close()
