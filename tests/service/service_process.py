"""`appliance run` as a child process with a stand-in NOTIFY_SOCKET, for tests of the service."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from appliance.tryout.sandbox import Sandbox, write_config
from tests.conftest import wait_until
from tests.service.test_run_command import NotifySocket

READY_SECONDS = 20.0


@contextlib.contextmanager
def running_service(
    box: Sandbox, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], NotifySocket]]:
    """Run the sandbox's configuration as `appliance run` until READY=1; kill it if left running."""
    write_config(box.config_path, **box.sections())
    notify = NotifySocket(tmp_path / "notify")
    process = subprocess.Popen(
        [sys.executable, "-m", "appliance", "run", "--config", str(box.config_path)],
        env={**os.environ, "NOTIFY_SOCKET": notify.path},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(lambda: "READY=1" in notify.messages, READY_SECONDS), notify.messages
        yield process, notify
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        notify.close()
