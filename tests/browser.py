"""Debian's headless Chromium driven over the DevTools protocol, standard library only.

Chromium is started with ``--remote-debugging-pipe``: it reads protocol commands from file
descriptor 3 and writes replies and events to descriptor 4, each a JSON message ended by a NUL
byte (no websocket, no port, no extra package). A page is loaded in a fresh target; every
console message (``Runtime.consoleAPICalled``), uncaught exception (``Runtime.exceptionThrown``)
and browser log entry of level error or warning (``Log.entryAdded``: failed resource loads,
blocked requests) until the load event plus a short grace period is recorded, so a test can
require a page without any. ``evaluate`` runs an expression in the page; ``screenshot`` writes a
PNG of the full page. The flags are those that keep Chromium off the network and quiet here
(no background networking, component updates, sync, QUIC; a fresh profile).

Installed with apt-get (packages chromium, chromium-driver) when missing and running as root;
without root ``BrowserUnavailable`` is raised and the tests skip with its message.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from apt_packages import apt_install  # tests/ is on the path (conftest.py's folder)

PACKAGES = ("chromium", "chromium-driver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-extensions", "--hide-scrollbars", "--mute-audio")


class BrowserUnavailable(RuntimeError):
    """Chromium is not installed and cannot be installed here (not root): tests skip."""


def executable() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def ensure_installed() -> str:
    """The Chromium executable, installed with apt-get when missing and root."""
    found = executable()
    if found:
        return found
    if os.geteuid() != 0:
        raise BrowserUnavailable(
            "Chromium is not installed and cannot be installed without root: as root the test "
            f"installs it itself (apt-get install {' '.join(PACKAGES)}); .ci/run does it once")
    apt = shutil.which("apt-get")
    if apt is None:
        raise RuntimeError(f"Chromium is missing and there is no apt-get to install {PACKAGES}")
    try:
        done = apt_install(PACKAGES, apt)
    except RuntimeError as e:
        raise RuntimeError(f"installing Chromium as root failed: {e}") from None
    found = executable()
    if not found:
        raise RuntimeError(f"installing Chromium as root gave no chromium executable: "
                           f"{' '.join(done.args)}\n{(done.stdout + done.stderr)[-3000:]}")
    return found


class Browser:
    """One headless Chromium; ``with Browser() as b: b.load(url)``."""

    def __init__(self, timeout: float = 60.0):
        self.timeout = timeout
        self.profile = tempfile.TemporaryDirectory(prefix="emobench-chromium-")
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def to_3_and_4() -> None:  # in the child: the pipes become its descriptors 3 and 4
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser, from_browser)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.process = subprocess.Popen(
            [ensure_installed(), *FLAGS, "--remote-debugging-pipe",
             f"--user-data-dir={self.profile.name}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=to_3_and_4)  # Python's own descriptors are not
        # inheritable (PEP 446): only 0-2 and the two dup2'ed above reach Chromium
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False)
        except Exception:  # already gone
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass
        self.profile.cleanup()

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: bool = True) -> dict[str, Any]:
        """One protocol command; events that arrive meanwhile are kept in ``events``."""
        self._next += 1
        request: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session and self.session:
            request["sessionId"] = self.session
        os.write(self._write, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._message(deadline)
            if message.get("id") == self._next:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, method: str, grace: float = 0.5) -> None:
        """Until event ``method`` arrives, then ``grace`` seconds more of events."""
        deadline = time.monotonic() + self.timeout
        while not any(e["method"] == method for e in self.events):
            self.events.append(self._message(deadline))
        end = time.monotonic() + grace
        while time.monotonic() < end:  # a zero-delay timer's error arrives here
            self.send("Runtime.evaluate", {"expression": "1"})
            time.sleep(0.05)

    def load(self, url: str, width: int = 1280, height: int = 900) -> None:
        """Open ``url`` in a new page and wait for its load event."""
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        self.session = self.send("Target.attachToTarget", {"targetId": target["targetId"],
                                                          "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                         "deviceScaleFactor": 1, "mobile": False})
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def problems(self) -> list[str]:
        """Console messages, uncaught exceptions and error/warning log entries since load."""
        found = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled":
                found.append(f"console.{p.get('type')}: "
                             + " ".join(str(a.get("value", a.get("description")))
                                        for a in p.get("args", [])))
            elif e["method"] == "Runtime.exceptionThrown":
                details = p.get("exceptionDetails", {})
                found.append("exception: " + str(details.get("exception", {}).get(
                    "description", details.get("text"))))
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                found.append(f"log {p['entry']['level']}: {p['entry'].get('text')} "
                             f"{p['entry'].get('url', '')}".strip())
        return found

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the page."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: str | Path) -> Path:
        """A PNG of the whole page (beyond the window's height)."""
        shot = self.send("Page.captureScreenshot", {"format": "png",
                                                    "captureBeyondViewport": True})
        path = Path(path)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
