"""A websocket-client frame reader that refuses an oversized frame from its header.

websocket-client (1.x, `_abnf.frame_buffer.recv_frame`) reads a frame's whole payload
into memory once it has the length from the header: a 100 MiB text frame costs
100 MiB, and the allocator keeps it. This reader checks the length first; a frame
over the limit is read through and thrown away in small pieces (the stream stays in
step, memory stays flat) and `FrameTooLarge` is raised for it alone. A fragmented
message that grows past the limit cannot be skipped that way: `StreamUnusable`.
"""

from __future__ import annotations

from typing import Any

from websocket import ABNF
from websocket._abnf import frame_buffer

from appliance.errors import ApplianceError

DISCARD_PIECE_BYTES = 64 * 1024


class FrameTooLarge(ApplianceError):
    """A frame longer than the limit was skipped; the connection is still usable."""

    def __init__(self, length_bytes: int, limit_bytes: int) -> None:
        self.length_bytes = length_bytes
        super().__init__(
            f"a frame of {length_bytes} bytes (the limit is {limit_bytes}) was skipped"
        )


class StreamUnusable(ApplianceError):
    """A fragmented message grew past the limit: the connection must be replaced."""


class BoundedFrameBuffer(frame_buffer):
    """`frame_buffer` with a limit on the payload of a frame and of a fragmented message."""

    def __init__(self, recv_fn: Any, skip_utf8_validation: bool, max_bytes: int) -> None:
        super().__init__(recv_fn, skip_utf8_validation)
        self.max_bytes = max_bytes
        self._discarded_bytes = 0  # of the oversized payload being skipped (survives timeouts)
        self._message_bytes = 0  # of the fragmented message being received

    def recv_frame(self) -> ABNF:
        with self.lock:
            if self.needs_header():
                self.recv_header()
            assert self.header is not None
            fin, rsv1, rsv2, rsv3, opcode, has_mask, _ = self.header
            if self.needs_length():
                self.recv_length()
            if self.needs_mask():
                self.recv_mask()
            length = self.length
            assert length is not None
            if length > self.max_bytes:
                self._discard(length)
                self.clear()
                raise FrameTooLarge(length, self.max_bytes)
            if opcode in (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY, ABNF.OPCODE_CONT):
                self._message_bytes = self._message_bytes if opcode == ABNF.OPCODE_CONT else 0
                self._message_bytes += length
                if self._message_bytes > self.max_bytes:
                    raise StreamUnusable(f"a fragmented message grew past {self.max_bytes} bytes")
            payload = self.recv_strict(length)
            if has_mask:
                payload = ABNF.mask(self.mask_value, payload)  # type: ignore[arg-type]
            self.clear()
            frame = ABNF(fin, rsv1, rsv2, rsv3, opcode, has_mask, payload)
            frame.validate(self.skip_utf8_validation)
        return frame

    def _discard(self, length: int) -> None:
        # recv_strict keeps a partial piece across a timeout, so the count survives too.
        while self._discarded_bytes < length:
            piece = min(DISCARD_PIECE_BYTES, length - self._discarded_bytes)
            self.recv_strict(piece)
            self._discarded_bytes += piece
        self._discarded_bytes = 0


def bound_frames(ws: Any, max_bytes: int) -> None:
    """Make websocket-client's `ws` read frames through a BoundedFrameBuffer."""
    old = ws.frame_buffer
    ws.frame_buffer = BoundedFrameBuffer(ws._recv, old.skip_utf8_validation, max_bytes)
