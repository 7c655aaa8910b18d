"""A microphone that is missing, unplugged and plugged back, seen through the real daemon."""

from __future__ import annotations

import threading

import alsaaudio

from appliance.core import Pattern
from appliance.devices.microphone import PERIOD_BYTES, PERIOD_FRAMES
from appliance.service.control import request
from appliance.service.daemon import Parts
from appliance.tryout.sandbox import Sandbox
from tests.conftest import wait_until

DEVICE = "plughw:CARD=Gone,DEV=0"


class Socket:
    """A USB socket the test plugs a fake ALSA capture PCM into (pyalsaaudio's seam)."""

    def __init__(self):
        self.plugged = threading.Event()
        self.busy = False
        self.opens = 0

    def pcm(self, **kwargs):
        self.opens += 1
        if self.busy:
            raise alsaaudio.ALSAAudioError(f"Device or resource busy [{kwargs['device']}]")
        if not self.plugged.is_set():
            raise alsaaudio.ALSAAudioError(f"No such device [{kwargs['device']}]")
        return _Pcm(self)


class _Pcm:
    def __init__(self, socket: Socket):
        self._socket = socket
        self._paced = threading.Event()

    def info(self):
        return {"rate": 16000, "channels": 1, "format_name": "S16_LE"}

    def read(self):
        self._paced.wait(0.05)  # a real period takes 50 ms
        if not self._socket.plugged.is_set():
            raise alsaaudio.ALSAAudioError("No such device")
        return PERIOD_FRAMES, bytes(PERIOD_BYTES)

    def close(self):
        pass


def test_no_microphone_shows_then_recovers_by_itself(tmp_path):
    usb = Socket()
    box = Sandbox([], directory=tmp_path, device=DEVICE)
    box.start_standins()
    try:
        daemon = box.daemon = box.start_daemon(Parts(pcm_factory=usb.pcm))
        assert wait_until(lambda: daemon.panel.shown is Pattern.NO_MICROPHONE, 10)
        status = request(box.dir / "control.sock", "status")
        assert status["status"].startswith("No microphone: microphone 'plughw:CARD=Gone")
        assert "No such device" in status["status"]
        assert status["led"] == "no_microphone"

        usb.plugged.set()
        assert wait_until(lambda: daemon.state.microphone_ok is True, 10)
        assert wait_until(lambda: daemon.panel.shown is not Pattern.NO_MICROPHONE, 5)

        usb.plugged.clear()  # unplugged while reading
        assert wait_until(lambda: daemon.panel.shown is Pattern.NO_MICROPHONE, 10)
        usb.busy = True  # someone else grabbed the card meanwhile
        usb.plugged.set()
        assert wait_until(lambda: "busy" in daemon.state.microphone_detail, 15)
        assert "another program holds the sound card" in daemon.state.microphone_detail
        usb.busy = False
        assert wait_until(lambda: daemon.state.microphone_ok is True, 20)
    finally:
        box.stop()
