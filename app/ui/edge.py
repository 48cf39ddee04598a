"""The HTTP edge in front of gradio: answers, with a status and a plain message, what would otherwise end in a
reset connection, an HTTP 500 or a message that names nothing.

- **URLs longer than any studio link** (a share link is at most 8 KiB) get 414 and a short page that says so and
  links to the studio, instead of gradio failing to parse its own root URL (HTTP 500) or uvicorn dropping the
  connection. uvicorn's HTTP/1.1 parser (h11) gives up on a request line over 16 KiB by closing the connection,
  which a browser shows as a reset; :func:`allow_long_request_lines` lets lines up to Chromium's own URL limit
  (2 MiB) reach this check.
- **MCP tool calls** (``/gradio_api/mcp``): NaN, Infinity and numbers that overflow a double (``1e400``) are not
  JSON numbers; the MCP library turns them into ``null`` and refuses "None is not of type 'number'" without naming
  the argument. Here such an argument is refused by name, as a tool error the client can act on. A body holding an
  integer literal Python cannot read (over 4300 digits) gets JSON-RPC's parse error with a 400, not an HTTP 500.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_URL_BYTES = 16 * 1024
"""Longest path plus query string served: twice the longest share link (``MAX_SHARE_CHARS``) with room to spare."""
MAX_REQUEST_LINE_BYTES = 2 * 1024 * 1024
"""Chromium's URL limit: longer URLs never leave a browser, so every URL a visitor can open gets an answer."""
MCP_PATHS = ("/gradio_api/mcp", "/gradio_api/mcp/", "/gradio_api/mcp/http", "/gradio_api/mcp/http/")
MAX_MCP_BODY_BYTES = 64 * 1024 * 1024
"""Bodies larger than this pass through unread (the MCP server applies its own limits)."""


def allow_long_request_lines(limit: int = MAX_REQUEST_LINE_BYTES) -> None:
    """Let uvicorn's h11 parser buffer a request line of up to ``limit`` bytes (default 16 KiB), so that a long
    URL reaches :class:`EdgeGuard` and gets a 414 instead of a closed connection. Memory per connection stays
    bounded by ``limit``."""
    try:
        from uvicorn.protocols.http import h11_impl
    except ImportError:  # another server: nothing to widen
        return
    h11_impl.DEFAULT_MAX_INCOMPLETE_EVENT_SIZE = max(h11_impl.DEFAULT_MAX_INCOMPLETE_EVENT_SIZE, limit)


class EdgeGuard:
    """ASGI middleware: the checks above, before gradio sees the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = len(scope.get("raw_path") or scope.get("path", "").encode()) + len(scope.get("query_string", b""))
        if length > MAX_URL_BYTES:
            await _too_long(scope, send, length)
            return
        if scope.get("method") == "POST" and scope.get("path", "") in MCP_PATHS:
            await self._mcp(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, more, messages = b"", True, []
        while more and len(body) <= MAX_MCP_BODY_BYTES:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            more = message.get("type") == "http.request" and message.get("more_body", False)
        if not more:
            answer = mcp_refusal(body)
            if answer is not None:
                status, document = answer
                await _send(send, status, "application/json", json.dumps(document).encode())
                return

        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)


def mcp_refusal(body: bytes) -> tuple[int, dict[str, Any]] | None:
    """The answer to an MCP request body that names nothing clearly downstream, or None to pass it on.

    Returns:
        (HTTP status, JSON-RPC response): a parse error for an integer literal of over 4300 digits; a tool error
        naming the argument for a ``tools/call`` whose arguments hold NaN, Infinity or a number beyond a double.
    """
    try:
        request = json.loads(body, parse_constant=_NonFinite)
    except json.JSONDecodeError:
        return None  # not JSON at all: the MCP server's own parse error says so
    except (ValueError, RecursionError) as error:  # ValueError: Python reads no integer of over 4300 digits
        reason = "is nested too deeply" if isinstance(error, RecursionError) else "holds an integer of over 4300 digits"
        message = f"Parse error: the request body {reason}; send arguments as ordinary JSON values."
        return 400, {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": message}}
    if not isinstance(request, dict) or request.get("method") != "tools/call":
        return None
    params = request.get("params")
    arguments = params.get("arguments") if isinstance(params, dict) else None
    if not isinstance(arguments, dict):
        return None
    bad = next(_non_finite(arguments), None)
    if bad is None:
        return None
    where, value = bad
    text = (
        f"Input validation error: argument {where!r} received {value}; it must be a finite JSON number "
        "(JSON has no NaN or Infinity, and a number beyond ±1.8e308 does not fit a double)."
    )
    result = {"content": [{"type": "text", "text": text}], "isError": True}
    return 200, {"jsonrpc": "2.0", "id": request.get("id"), "result": result}


class _NonFinite(float):
    """NaN, Infinity or -Infinity as written in the body (so the message quotes it as sent)."""

    def __new__(cls, literal: str) -> _NonFinite:
        value = super().__new__(cls, literal)
        value.literal = literal
        return value


def _non_finite(value: Any, where: str = ""):
    """(path, as received) of every non-finite number inside ``value``, arguments first to last."""
    if isinstance(value, float) and not math.isfinite(value):
        yield where, getattr(value, "literal", "a number beyond a double (read as infinity)")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_finite(item, f"{where}[{index}]")


async def _too_long(scope: Scope, send: Send, length: int) -> None:
    message = (
        f"This address is {length:,} bytes long; the studio serves addresses of at most {MAX_URL_BYTES:,} bytes "
        "(a share link is far shorter), so this one was cut, altered or is not a studio link."
    )
    accept = dict(scope.get("headers") or []).get(b"accept", b"")
    if b"text/html" in accept:
        root = html.escape((scope.get("root_path") or "").rstrip("/") + "/")
        page = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Link too long</title></head>"
            "<body style='font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto;'>"
            f"<h1>This link is too long</h1><p>{html.escape(message)}</p>"
            f"<p><a href='{root}'>Open Conditioning Studio</a> and load the recipe from its JSON file instead.</p>"
            "</body></html>"
        )
        await _send(send, 414, "text/html; charset=utf-8", page.encode())
    else:
        await _send(send, 414, "application/json", json.dumps({"error": message}).encode())


async def _send(send: Send, status: int, content_type: str, body: bytes) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
