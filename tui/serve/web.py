"""textual-serve's web server, shared by invitation only.

A port on 127.0.0.1 is not private: every local user can reach it, and so can every web page
the person visits, through their browser (Jupyter's rule). So the page carries the token as
``?token=`` and the websocket that starts an app process carries it in its path (the page
writes it there), on every interface. No cookie holds it: browsers do not keep cookies apart
by port, so a cookie would go to every other server on the same host and a second trajscope
would overwrite the first one's. The static files are textual-serve's public assets and start
nothing: they need no token. The ``Host`` a request names must be one this server answers to
(a page whose name was rebound to 127.0.0.1 names its own); the websocket and every request
that could change state must come from this server's own origin when a browser says where it
comes from (``Origin``); and no more than ``max_viewers`` app processes run at once. Each
refusal is a short sentence and starts nothing. The token is compared in constant time, never
passed to the app processes, and never logged: every log record of the serve process is one
line with the token cut out (aiohttp logs a malformed request with a traceback whose locals
hold the request's bytes). Requests for static files are logged at DEBUG: a page load asks
for a dozen, and the lines a person needs (viewers, refusals, errors) would scroll away.

A served search hands ``guarded_server`` a ``viewer_command``: each websocket asks it for the
command of its own viewer (the search is started for the first one), kept per connection.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import socket
import sys
from collections.abc import Callable
from contextvars import ContextVar
from urllib.parse import quote, urlsplit

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("0.0.0.0", "::", "")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_VIEWERS = 8  # each viewer is an app process (about 50 MB)
WEBSOCKETS = ("websocket", "viewer")  # textual-serve's /ws, and /ws/{token} that the page opens
REDACTED = "<token>"
MIN_PIECE = 6  # a piece of the token this long or longer is cut out of logs too
# where a token sits in what a client sent: aiohttp quotes the first 100 bytes of a line it
# refuses, so a token there may be cut short and no longer match itself
TOKEN_PLACES = re.compile(r"(token=|/ws/)[^\s&?#'\"]+")
_VIEWER_COMMAND: ContextVar[str] = ContextVar("viewer_command", default="")  # this connection's


def host_name(netloc: str) -> str:
    """The name in a ``Host`` header or an origin: no port, no brackets, lower case, no final dot."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")] if "]" in netloc else ""
    if netloc.count(":") == 1:
        netloc = netloc.split(":", 1)[0]
    return netloc.rstrip(".")


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def allowed_names(host: str, extra: list[str] | tuple[str, ...] = ()) -> frozenset[str]:
    """The names a request may use for this server: localhost's, the bound one, and the person's
    (``--allow-host``); on a wildcard address, this machine's names too."""
    names = set(LOCAL_NAMES) | {host_name(h) for h in extra if h}
    if host in WILDCARDS:
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    else:
        names.add(host_name(f"[{host}]" if ":" in host else host))
    return frozenset(n for n in names if n)


def host_allowed(header: str, names: frozenset[str]) -> bool:
    """A DNS-rebound page names its own domain; an address (``10.0.0.5:8000``) names no one's page,
    so any address is as good as the bound one."""
    name = host_name(header)
    return bool(name) and (name in names or _is_address(name))


def same_origin(origin: str, host_header: str) -> bool:
    """Whether ``Origin`` is this server as the browser reached it (scheme aside: a TLS proxy in
    front may serve it as https). ``null`` (a sandboxed frame, a file) is no one's origin."""
    parts = urlsplit(origin.strip())
    return (
        parts.scheme in ("http", "https") and bool(parts.netloc) and parts.netloc.lower() == host_header.strip().lower()
    )


def share_url(host: str, port: int, token: str) -> str:
    """The URL to open: on a wildcard address, by this machine's name (``0.0.0.0`` works nowhere else)."""
    name = socket.gethostname() if host in WILDCARDS else host
    shown = f"[{name}]" if ":" in name else name
    return f"http://{shown}:{port}/?token={quote(token, safe='')}"


def machine_addresses() -> list[str]:
    """This machine's addresses other than loopback, for a URL by address when its name does not resolve."""
    found: list[str] = []
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_TCP)
    except OSError:
        infos = []
    for info in infos:
        address = str(info[4][0])
        if not ipaddress.ip_address(address.split("%")[0]).is_loopback and address not in found:
            found.append(address)
    return found


def scrub_logs(secret: str) -> None:
    """Every log record this process makes from now on is one line without ``secret``: its
    message formatted, an exception reduced to its type and sentence (no traceback, no locals,
    which is where aiohttp's rejected request bytes were), ``secret`` cut out in each form a URL
    or a repr writes it. Done where records are made, so no handler added later can show more."""
    forms = {secret, quote(secret, safe=""), repr(secret.encode())[2:-1]}
    # and what a cut short quote keeps of it: aiohttp shows the first 100 bytes of a header line
    # it refuses, so a token's start (or, cut at the front, its end) stands alone
    forms |= {part for whole in list(forms) for k in range(MIN_PIECE, len(whole)) for part in (whole[:k], whole[-k:])}
    forms = sorted((f for f in forms if f), key=len, reverse=True)
    make = logging.getLogRecordFactory()

    def scrubbed(*args, **kwargs) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a record whose arguments do not fit its format
            text = str(record.msg)
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            text = f"{text} ({type(error).__name__}: {error})"
        for form in forms:
            text = text.replace(form, REDACTED)
        text = " ".join(TOKEN_PLACES.sub(rf"\1{REDACTED}", text).split())
        record.msg, record.args = text, ()
        record.exc_info = record.exc_text = record.stack_info = None
        return record

    logging.setLogRecordFactory(scrubbed)


def guarded_server(
    command: str,
    host: str,
    port: int,
    token: str,
    title: str,
    allow_hosts: list[str] | tuple[str, ...] = (),
    max_viewers: int = MAX_VIEWERS,
    viewer_command: Callable[[int], str] | None = None,
):
    """The server (textual-serve and aiohttp are the ``serve`` extra: imported here, on use).
    ``viewer_command(watching)``, when given, is each viewer's command, asked (in a thread: it may
    start a search) with the number of viewers already there."""
    import aiohttp_jinja2
    from aiohttp import web
    from aiohttp.abc import AbstractAccessLogger
    from textual_serve.server import Server, to_int

    quoted = quote(token, safe="")

    class PathOnlyLog(AbstractAccessLogger):
        """The access log without the query or the Referer header, and the websocket's path
        without its token segment."""

        def log(self, request, response, time: float) -> None:
            path = request.path.replace(token, REDACTED).replace(quoted, REDACTED)
            static = request.match_info.route.name == "static" and response.status < 400
            (self.logger.debug if static else self.logger.info)(
                '%s "%s %s" %s %.3fs', request.remote, request.method, path, response.status, time
            )

    def refuse(status: int, sentence: str) -> web.Response:
        return web.Response(status=status, text=f"{status}: {sentence}\n")

    class GuardedServer(Server):
        def __init__(self) -> None:
            super().__init__(command, host=host, port=port, title=title)
            self.token, self.max_viewers = token, max_viewers
            self.names = allowed_names(host, allow_hosts)
            self.viewers = 0

        @property
        def command(self) -> str:
            """This connection's viewer command where a search gives one, else the server's."""
            return _VIEWER_COMMAND.get() or self._command

        @command.setter
        def command(self, value: str) -> None:
            self._command = value

        def _invited(self, request: web.Request) -> bool:
            given = request.match_info.get("token") or request.query.get("token") or ""
            return hmac.compare_digest(given.encode(), self.token.encode())

        def _refusal(self, request: web.Request) -> web.Response | None:
            host_header = request.headers.get("Host", "")
            if not host_header.strip():
                return refuse(403, "a request without a Host header is refused")
            if not host_allowed(host_header, self.names):
                return refuse(
                    403,
                    f"this trajscope does not answer to the name {host_name(host_header)!r}; "
                    f"open it by one it knows, or start it with --allow-host NAME",
                )
            route = request.match_info.route.name
            public = route == "static" and request.method in ("GET", "HEAD")  # textual-serve's own assets
            if not public and not self._invited(request):
                return refuse(403, "this trajscope is shared by invitation; open the URL with its token")
            origin = request.headers.get("Origin")
            # browsers always send Origin on a websocket and on a cross-site write; a client
            # that sends none is not a page (and has the token)
            changes = request.method not in SAFE_METHODS or route in WEBSOCKETS or "Upgrade" in request.headers
            if changes and origin is not None and not same_origin(origin, host_header):
                return refuse(403, f"a page from {origin[:100]!r} may not open this trajscope")
            return None

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.router.add_get("/ws/{token}", self.handle_websocket, name="viewer")

            @web.middleware
            async def invitation(request: web.Request, handler):
                refusal = self._refusal(request)
                if refusal is not None:
                    return refusal
                response = await handler(request)
                if not response.prepared:  # a websocket's headers are gone by now
                    response.headers["Referrer-Policy"] = "no-referrer"  # the page's URL holds the token
                    response.headers["X-Frame-Options"] = "DENY"
                    if request.match_info.route.name == "index":  # the page holds it too
                        response.headers["Cache-Control"] = "no-store"
                return response

            app.middlewares.append(invitation)
            return app

        @aiohttp_jinja2.template("app_index.html")
        async def handle_index(self, request: web.Request) -> dict:
            """textual-serve's page, its websocket at ``/ws/TOKEN`` (its script appends a query of
            its own) on the address the browser used (not 0.0.0.0; the middleware checked it)."""
            ws = "wss" if request.scheme == "https" else "ws"
            return {
                "font_size": to_int(request.query.get("fontsize", "16"), 16),
                "app_websocket_url": f"{ws}://{request.host}/ws/{quoted}",
                "config": {"static": {"url": f"{request.scheme}://{request.host}/static/"}},
                "application": {"name": self.title},
            }

        async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
            if not web.WebSocketResponse().can_prepare(request).ok:
                return refuse(400, "this is a viewer's websocket; open the page's URL in a browser")
            if self.viewers >= self.max_viewers:  # no await before the count: no two pass at once
                return refuse(
                    503,
                    f"this trajscope already has {self.viewers} viewer(s), its limit "
                    f"(--max-viewers); close a tab and reload",
                )
            self.viewers += 1
            try:
                if viewer_command is not None:  # a task's own context: no other connection sees it
                    import asyncio

                    loop = asyncio.get_running_loop()
                    try:
                        _VIEWER_COMMAND.set(await loop.run_in_executor(None, viewer_command, self.viewers - 1))
                    except Exception as exc:  # noqa: BLE001 - one sentence to the page and the log, no traceback
                        logging.getLogger("trajscope.serve").error("the search could not start: %s", exc)
                        return refuse(503, f"the search could not start: {exc}")
                return await super().handle_websocket(request)
            finally:
                self.viewers -= 1

        async def on_startup(self, app: web.Application) -> None:
            """Quiet: the serve command prints the address to share."""

        def initialize_logging(self) -> None:
            """Plain lines on stdout (textual-serve's rich handler printed tracebacks with their
            locals), each record scrubbed of the token."""
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(logging.Formatter("%(levelname)-8s %(message)s"))
            logging.basicConfig(level=logging.DEBUG if self.debug else logging.INFO, handlers=[handler], force=True)
            scrub_logs(self.token)

        def serve(self, debug: bool = False) -> None:
            """textual-serve's ``serve`` with logs that cannot hold the token."""
            import asyncio
            import signal

            self.debug = debug
            self.initialize_logging()
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.request_exit)
            web.run_app(
                self._make_app(),
                host=host,
                port=port,
                handle_signals=False,
                loop=loop,
                print=lambda *args: None,
                access_log_class=PathOnlyLog,
            )

    return GuardedServer()
