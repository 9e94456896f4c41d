"""``trajscope serve`` attacked the way a web page, a rebound domain name, a greedy token holder or
a malformed request would, against the real server (one served demo search for the module, no
browser needed): every refusal comes before any viewer process starts, the token is shown once,
never logged, and never put in a cookie (which every other port of the host would receive)."""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support import served_viewers, wait_until

pytestmark = pytest.mark.subprocess

pytest.importorskip("textual_serve", reason="trajscope[serve] is a test extra")
aiohttp = pytest.importorskip("aiohttp")

EXTRA_NAME = "trajscope.test"  # the fixture's --allow-host
RUN = Path(__file__).resolve().parents[2] / "demo_data" / "runs" / "calc-divide.jsonl"  # for `serve open`
UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


@dataclass
class Served:
    proc: subprocess.Popen
    port: int
    token: str
    url: str
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(work: Path, *args: str) -> Served:
    """``trajscope serve ARGS`` on a free port, its output in files; once it prints its URL."""
    port = free_port()
    out, err = work / f"stdout-{port}.txt", work / f"stderr-{port}.txt"
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trajscope.tui.cli", "serve", *args, "--port", str(port)],
            stdout=o,
            stderr=e,
            start_new_session=True,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return "serving" in err.read_text()
        except OSError:
            return False

    if not wait_until(listening, 60, 0.2):
        proc.kill()
        raise AssertionError(f"serve did not listen: {err.read_text()[-2000:]}")
    url = re.search(r"at (http://\S+)", err.read_text()).group(1)
    return Served(proc, port, parse_qs(urlsplit(url).query)["token"][0], url, out, err)


def stop(served: Served) -> None:
    os.killpg(served.proc.pid, signal.SIGINT)
    served.proc.wait(60)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    work = tmp_path_factory.mktemp("serve-attacks")
    served = start(
        work,
        "demo",
        "semver-prerelease",
        "--pace",
        "1",
        "--max-nodes",
        "40",
        "--max-viewers",
        "1",
        "--allow-host",
        EXTRA_NAME,
        "--out",
        str(work / "run.jsonl"),
    )
    yield served
    stop(served)


def viewers(served: Served) -> int:
    return served_viewers(served.proc.pid)


def request(served: Served, path: str, method: str = "GET", **headers: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        conn.request(method, path, headers={"Host": f"127.0.0.1:{served.port}"} | headers)
        response = conn.getresponse()
        return response.status, response.read(1 << 20).decode(errors="replace") if response.status != 101 else ""
    finally:
        conn.close()


def handshake(served: Served, path: str = "/ws", **headers: str) -> tuple[int, str]:
    """The opening request of a websocket, as a page's ``new WebSocket(...)`` sends it."""
    return request(served, path, **(UPGRADE | headers))


def raw(served: Served, data: bytes) -> bytes:
    """Bytes on the server's port as any client could write them, and what comes back."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def page_websocket(html: str) -> str:
    """The websocket URL textual-serve's page script opens (it appends ``?width=..&height=..``)."""
    return re.search(r'data-session-websocket-url="([^"]+)"', html).group(1)


def test_every_request_needs_the_token_on_localhost(served):
    assert served.url.startswith(f"http://127.0.0.1:{served.port}/?token=")
    token = served.token
    assert len(token) >= 24
    for path in ("/", "/ws", f"/ws/wrong{token[5:]}", f"/?token=wrong{token[5:]}", "/download/x"):
        status, text = request(served, path)
        assert status == 403 and "by invitation" in text, (path, status, text)
    assert handshake(served)[0] == 403
    assert handshake(served, f"/ws/{token[:-1]}")[0] == 403
    status, text = request(served, f"/?token={token}")
    assert status == 200 and "<html" in text
    # the page's websocket carries the token in its path (its script adds a query of its own)
    assert page_websocket(text) == f"ws://127.0.0.1:{served.port}/ws/{token}"
    # textual-serve's own assets are public: they start nothing and hold nothing of this server
    assert request(served, "/static/js/textual.js")[0] == 200
    assert viewers(served) == 0


def test_a_page_from_elsewhere_cannot_open_the_websocket(served):
    token = served.token
    for origin in (
        "http://evil.example",
        "https://evil.example",
        f"http://evil.example:{served.port}",
        "null",
        f"http://127.0.0.1:{free_port()}",
        f"http://localhost:{served.port}",
    ):
        status, text = handshake(served, f"/ws?token={token}", Origin=origin)
        assert status == 403 and "may not open" in text, (origin, status, text)
        # the same at the websocket URL the page names
        assert handshake(served, f"/ws/{token}", Origin=origin)[0] == 403
    time.sleep(1)
    assert viewers(served) == 0


def test_a_rebound_name_is_refused(served):
    """DNS rebinding: the attacker's name now points at 127.0.0.1, so the page is same-origin with
    itself; only the Host header tells, and it names evil.example."""
    token, port = served.token, served.port
    evil = f"evil.example:{port}"
    for path in (f"/?token={token}", f"/static/js/textual.js?token={token}"):
        status, text = request(served, path, Host=evil)
        assert status == 403 and "does not answer to the name 'evil.example'" in text, (path, text)
    assert handshake(served, f"/ws?token={token}", Host=evil, Origin=f"http://{evil}")[0] == 403
    time.sleep(1)
    assert viewers(served) == 0
    # the names it answers to: localhost's, and the one --allow-host added
    for host in (f"localhost:{port}", f"[::1]:{port}", f"{EXTRA_NAME}:{port}", f"{EXTRA_NAME.upper()}.:{port}"):
        assert request(served, f"/?token={token}", Host=host)[0] == 200, host
    assert request(served, f"/?token={token}", Host=f"{EXTRA_NAME}.evil.example:{port}")[0] == 403
    # HTTP/1.0 may leave Host out: refused, in a sentence that says so
    answer = raw(served, f"GET /?token={token} HTTP/1.0\r\n\r\n".encode())
    assert re.match(rb"HTTP/1\.[01] 403", answer) and b"a request without a Host header is refused" in answer, answer


def test_a_cross_site_write_is_refused(served):
    token = served.token
    status, text = request(served, f"/?token={token}", "POST", Origin="http://evil.example")
    assert status == 403 and "may not open" in text
    # the same request from the server's own origin reaches the router (which has no POST route)
    assert request(served, f"/?token={token}", "POST", Origin=f"http://127.0.0.1:{served.port}")[0] == 405


def test_viewers_are_capped(served):
    """--max-viewers 1: the first viewer (same origin, as the page opens it) runs; the next is
    refused with a sentence and starts nothing; once the first leaves, a viewer is let in again."""
    url = f"ws://127.0.0.1:{served.port}/ws?token={served.token}&width=100&height=30"
    origin = f"http://127.0.0.1:{served.port}"

    async def play() -> tuple[int, int, str]:
        async with aiohttp.ClientSession() as session, session.ws_connect(url, origin=origin) as first:
            await first.receive(timeout=30)  # the viewer's first bytes: its process runs
            running = viewers(served)
            status, sentence = handshake(served, urlsplit(url)._replace(scheme="", netloc="").geturl(), Origin=origin)
            return running, status, sentence

    running, refused, sentence = asyncio.run(play())
    assert running == 1
    assert refused == 503 and "already has 1 viewer(s)" in sentence and "--max-viewers" in sentence
    assert viewers(served) <= 1
    assert wait_until(lambda: viewers(served) == 0, 30), "the first viewer's process did not end"

    async def again() -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(url, origin=origin) as ws:
            await ws.receive(timeout=30)

    asyncio.run(again())


def test_the_token_is_shown_once_and_never_logged(served):
    token, port = served.token, served.port
    # what a browser sends after opening the URL: the token in the query, in the Referer, in the path
    for path, headers in (("/", {}), ("/static/css/xterm.css", {"Referer": served.url})):
        assert request(served, f"{path}?token={token}", **headers)[0] == 200
    assert request(served, f"/ws/{token}")[0] == 400  # the websocket's URL, not asked as a websocket
    assert request(served, f"/nothing-here?token={token}")[0] == 404
    assert request(served, f"/?token={token}", "PUT")[0] == 405
    assert request(served, "/", Referer=served.url)[0] == 403
    # requests aiohttp itself refuses (400) and logs as an error: no Host in HTTP/1.1, a cookie
    # header another app on localhost made too long, a Referer past the line limit
    malformed = (
        f"GET /?token={token} HTTP/1.1\r\nUser-Agent: curl\r\n\r\n",
        f"GET /?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: other_app={'a' * 9000}\r\n\r\n",
        f"GET /ws/{token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nReferer: {served.url}{'a' * 9000}\r\n\r\n",
        # the token where aiohttp's 100-byte quote of the refused line cuts it short
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: x={'a' * 85}{token}{'a' * 9000}\r\n\r\n",
    )
    for data in malformed:
        assert re.match(rb"HTTP/1\.[01] 400", raw(served, data.encode())), data[:60]
    time.sleep(0.5)
    output = served.output()
    lines = [line for line in output.splitlines() if token in line]
    assert len(lines) == 1 and lines[0].startswith("trajscope: serving"), lines
    rest = output.replace(lines[0], "")
    assert token[:8] not in rest and token[-8:] not in rest  # nor a part of it (a line cut short or wrapped)
    assert output.count("Error handling request") >= len(malformed)  # the errors were logged: as one line each
    assert "Traceback" not in output and "locals" not in output
    assert "xterm.css" not in output  # a static file is logged at DEBUG: a page load asks for a dozen
    assert '"GET /nothing-here" 404' in output  # the access log is on, and says what was asked
    assert '"GET /ws/<token>" 400' in output
    headers = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers.request("GET", f"/?token={token}")
    response = headers.getresponse()
    assert response.getheader("Referrer-Policy") == "no-referrer"  # static files: no token in their Referer
    assert response.getheader("Cache-Control") == "no-store"  # the page holds the token
    headers.close()


def test_no_cookie_holds_the_token(served, tmp_path):
    """Browsers do not keep cookies apart by port: a cookie holding the token would go to every
    other server on 127.0.0.1 the person visits, and a second trajscope's would overwrite the
    first's. One browser (a cookie jar that keeps what any server sets) opens two servers' pages,
    their files and their websockets as the pages name them: nothing is stored, each page's
    websocket names its own server and token, and each server refuses the other's token."""
    other = start(tmp_path, "open", str(RUN))

    async def browse() -> tuple[list, dict[int, str]]:
        jar = aiohttp.CookieJar(unsafe=True)  # unsafe: keep cookies set by an IP address, as browsers do
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            sockets = {}
            for server in (served, other):
                async with browser.get(server.url) as page:
                    html = await page.text()
                    assert page.status == 200 and "Set-Cookie" not in page.headers
                for asset in re.findall(r'(?:href|src)="(http://[^"]+/static/[^"]+)"', html):
                    async with browser.get(asset) as response:
                        assert response.status == 200, asset
                sockets[server.port] = page_websocket(html)
            # after both pages, the first one's websocket still opens (101): nothing was overwritten
            for server in (other, served):
                async with browser.ws_connect(
                    sockets[server.port] + "?width=80&height=24", origin=f"http://127.0.0.1:{server.port}"
                ) as ws:
                    assert not ws.closed
            return list(jar), sockets

    try:
        stored, sockets = asyncio.run(browse())
        assert stored == []
        assert sockets == {s.port: f"ws://127.0.0.1:{s.port}/ws/{s.token}" for s in (served, other)}
        for one, two in ((served, other), (other, served)):
            assert request(one, f"/?token={two.token}")[0] == 403
            assert handshake(one, f"/ws/{two.token}", Origin=f"http://127.0.0.1:{one.port}")[0] == 403
    finally:
        stop(other)
    assert other.token not in other.stdout.read_text()  # its websocket's path is logged without it
    assert wait_until(lambda: viewers(served) == 0, 30), "the viewer's process did not end"


def test_a_wildcard_address_prints_a_url_by_name(tmp_path):
    served = start(tmp_path, "open", str(RUN), "--host", "0.0.0.0")
    try:
        line = served.stderr.read_text()
        assert "0.0.0.0" not in line, line
        name = urlsplit(served.url).hostname
        assert name == socket.gethostname().lower() or name == socket.gethostname()
        assert request(served, f"/?token={served.token}", Host=f"{socket.gethostname()}:{served.port}")[0] == 200
        assert request(served, f"/?token={served.token}", Host=f"evil.example:{served.port}")[0] == 403
    finally:
        stop(served)
