"""textual-serve's web server with an invitation: a token for anyone not on this machine.

Every request (the page, its static files, the websocket that starts an app process) must
carry the token, as ``?token=`` or as the cookie set when the page was opened with it; any
other gets 403 and starts nothing. The token is compared in constant time and never passed to
the app processes.
"""

from __future__ import annotations

import hmac

COOKIE = "trajscope_token"


def guarded_server(command: str, host: str, port: int, token: str | None, title: str):
    """The server (textual-serve and aiohttp are the ``serve`` extra: imported here, on use)."""
    from aiohttp import web
    from textual_serve.server import Server

    class GuardedServer(Server):
        def __init__(self, command: str, host: str, port: int, token: str | None, title: str) -> None:
            super().__init__(command, host=host, port=port, title=title)
            self.token = token
            self.viewers = 0

        def _allowed(self, request: web.Request) -> bool:
            if self.token is None:
                return True
            given = request.query.get("token") or request.cookies.get(COOKIE) or ""
            return hmac.compare_digest(given.encode(), self.token.encode())

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()

            @web.middleware
            async def invitation(request: web.Request, handler):
                if not self._allowed(request):
                    return web.Response(status=403, text="403: this trajscope is shared by invitation; open the URL "
                                                         "with its token\n")
                response = await handler(request)
                if self.token is not None and request.query.get("token") and isinstance(response, web.Response):
                    response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
                return response

            app.middlewares.append(invitation)
            return app

        async def handle_index(self, request: web.Request):
            # the page's websocket goes back to the address the browser used (not 0.0.0.0)
            self.public_url = f"{request.scheme}://{request.host}"
            return await super().handle_index(request)

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            self.viewers += 1
            try:
                return await super().handle_websocket(request)
            finally:
                self.viewers -= 1

        async def on_startup(self, app: web.Application) -> None:
            """Quiet: the serve command prints the address to share."""

    return GuardedServer(command, host, port, token, title)
