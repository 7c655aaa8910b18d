"""The link over real TLS (wss:// and the https:// token request), as against AssemblyAI:
certificates verified, the total deadline and the frame bound in place."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading

import pytest

from appliance.core.events import LinkDown, LinkIdle, LinkUp, SentenceFinished
from appliance.speech.token import KeyOutcome, check_key
from appliance.tryout.standins.speech_server import SpeechStandin
from tests.speech.test_speech_link import KEY, Feeder, Recorder, start_link

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture
def tls_standin(tmp_path, monkeypatch):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    # The client verifies certificates against the default store; point it at ours.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    standin = SpeechStandin(script=["Mondays are the worst."], api_key=KEY, tls_context=context)
    standin.start()
    yield standin
    standin.stop()


def test_a_session_over_tls_delivers_sentences(tls_standin, speak):
    assert tls_standin.url.startswith("wss://")
    recorder = Recorder()
    link, stop, thread = start_link(tls_standin.url, recorder, session="always")
    try:
        with Feeder(link) as feeder:
            assert recorder.wait_for(lambda r: r.of(LinkUp), 10), recorder.events
            feeder.play(speak("Mondays are the worst."))
            assert recorder.wait_for(lambda r: r.of(SentenceFinished), 20), recorder.events
    finally:
        stop.set()
        thread.join(15)
    assert [e.text for e in recorder.of(SentenceFinished)] == ["Mondays are the worst."]
    assert recorder.of(LinkDown) == []


def test_the_key_check_over_https(tls_standin):
    assert check_key(tls_standin.url, KEY, total_seconds=5).outcome is KeyOutcome.ACCEPTED
    refused = check_key(tls_standin.url, "wrong", total_seconds=5)
    assert refused.outcome is KeyOutcome.REFUSED and refused.http_status == 401
    recorder = Recorder()
    link, stop, thread = start_link(tls_standin.url, recorder, session="on_speech")
    try:
        assert recorder.wait_for(lambda r: r.of(LinkIdle), 10), recorder.events
    finally:
        stop.set()
        thread.join(15)
    assert tls_standin.token_requests == 3


def test_a_drip_fed_tls_handshake_is_cut_at_the_deadline(tls_standin):
    tls_standin.drip_handshake(seconds_per_byte=0.3, for_seconds=600.0)
    recorder = Recorder()
    link, stop, thread = start_link(
        tls_standin.url, recorder, session="always", connect_timeout_seconds=1.5
    )
    try:
        assert recorder.wait_for(lambda r: r.of(LinkDown), 10), recorder.events
        assert "within 2 s" in recorder.of(LinkDown)[0].reason
        threading.Event().wait(0.5)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
