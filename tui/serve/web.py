"""textual-serve's web server, shared by invitation only.

A port on 127.0.0.1 is not private: every local user can reach it, and so can every web page
the person visits, through their browser (Jupyter's rule). So every request (the page, its
static files, the websocket that starts an app process) carries the token, as ``?token=`` or
as the cookie set when the page was opened with it, on every interface; the ``Host`` it names
must be one this server answers to (a page whose name was rebound to 127.0.0.1 names its own);
the websocket and every request that could change state must come from this server's own
origin when a browser says where it comes from (``Origin``); and no more than ``max_viewers``
app processes run at once. Each refusal is a short sentence and starts nothing. The token is
compared in constant time, never passed to the app processes, and never logged (the access
log shows paths, not queries or referrers).
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from urllib.parse import quote, urlsplit

COOKIE = "trajscope_token"
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("0.0.0.0", "::", "")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_VIEWERS = 8  # each viewer is an app process (about 50 MB)


def host_name(netloc: str) -> str:
    """The name in a ``Host`` header or an origin: no port, no brackets, lower case, no final dot."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1:netloc.find("]")] if "]" in netloc else ""
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
    return parts.scheme in ("http", "https") and bool(parts.netloc) and \
        parts.netloc.lower() == host_header.strip().lower()


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


def guarded_server(command: str, host: str, port: int, token: str, title: str,
                   allow_hosts: list[str] | tuple[str, ...] = (), max_viewers: int = MAX_VIEWERS):
    """The server (textual-serve and aiohttp are the ``serve`` extra: imported here, on use)."""
    from aiohttp import web
    from aiohttp.abc import AbstractAccessLogger
    from textual_serve.server import Server

    class PathOnlyLog(AbstractAccessLogger):
        """The access log without the query or the Referer header: the token travels in both."""

        def log(self, request, response, time: float) -> None:
            self.logger.info('%s "%s %s" %s %.3fs', request.remote, request.method, request.path,
                             response.status, time)

    def refuse(status: int, sentence: str) -> web.Response:
        return web.Response(status=status, text=f"{status}: {sentence}\n")

    class GuardedServer(Server):
        def __init__(self) -> None:
            super().__init__(command, host=host, port=port, title=title)
            self.token, self.max_viewers = token, max_viewers
            self.names = allowed_names(host, allow_hosts)
            self.viewers = 0

        def _invited(self, request: web.Request) -> bool:
            given = request.query.get("token") or request.cookies.get(COOKIE) or ""
            return hmac.compare_digest(given.encode(), self.token.encode())

        def _refusal(self, request: web.Request) -> web.Response | None:
            host_header = request.headers.get("Host", "")
            if not host_allowed(host_header, self.names):
                return refuse(403, f"this trajscope does not answer to the name {host_name(host_header)!r}; "
                                   f"open it by one it knows, or start it with --allow-host NAME")
            if not self._invited(request):
                return refuse(403, "this trajscope is shared by invitation; open the URL with its token")
            origin = request.headers.get("Origin")
            # browsers always send Origin on a websocket and on a cross-site write; a client
            # that sends none is not a page (and has the token)
            changes = request.method not in SAFE_METHODS or request.path == "/ws"
            if changes and origin is not None and not same_origin(origin, host_header):
                return refuse(403, f"a page from {origin[:100]!r} may not open this trajscope")
            return None

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()

            @web.middleware
            async def invitation(request: web.Request, handler):
                refusal = self._refusal(request)
                if refusal is not None:
                    return refusal
                response = await handler(request)
                if not response.prepared:  # a websocket's headers are gone by now
                    response.headers["Referrer-Policy"] = "no-referrer"  # the page's URL holds the token
                    response.headers["X-Frame-Options"] = "DENY"
                    if request.query.get("token"):
                        response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
                return response

            app.middlewares.append(invitation)
            return app

        async def handle_index(self, request: web.Request):
            # the page's websocket goes back to the address the browser used (not 0.0.0.0);
            # the middleware has checked that name
            self.public_url = f"{request.scheme}://{request.host}"
            return await super().handle_index(request)

        async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
            if self.viewers >= self.max_viewers:  # no await before the count: no two pass at once
                return refuse(503, f"this trajscope already has {self.viewers} viewer(s), its limit "
                                   f"(--max-viewers); close a tab and reload")
            self.viewers += 1
            try:
                return await super().handle_websocket(request)
            finally:
                self.viewers -= 1

        async def on_startup(self, app: web.Application) -> None:
            """Quiet: the serve command prints the address to share."""

        def serve(self, debug: bool = False) -> None:
            """textual-serve's ``serve`` with an access log that cannot hold the token."""
            import asyncio
            import signal

            self.debug = debug
            self.initialize_logging()
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.request_exit)
            web.run_app(self._make_app(), host=host, port=port, handle_signals=False, loop=loop,
                        print=lambda *args: None, access_log_class=PathOnlyLog)

    return GuardedServer()
