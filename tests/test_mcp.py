"""MCP clients drive the studio: gradio's MCP server lists every generating endpoint as a described tool.

The test speaks MCP's streamable HTTP transport with the official ``mcp`` client to the served tiny studio.
"""

from __future__ import annotations

import anyio
import pytest

pytest.importorskip("mcp", reason="the MCP server needs gradio[mcp] (requirements.txt)")

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

TOOLS = {"text_to_image", "preview_maps", "controlnet", "ip_adapter", "preview_all_maps", "compare", "sweep", "report"}


def _with_session(url: str, work):
    async def main():
        async with streamablehttp_client(url) as (read, write, _), ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)

    return anyio.run(main)


@pytest.fixture(scope="module")
def mcp_url(served_app) -> str:
    return served_app.url.rstrip("/") + "/gradio_api/mcp/"


def test_every_endpoint_is_a_described_tool(mcp_url):
    listed = _with_session(mcp_url, lambda session: session.list_tools())
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) == TOOLS  # named after the API endpoints; nothing private (uploads, recipes, stop) leaks
    for tool in tools.values():
        assert len(tool.description) > 40, tool.name
    steps = tools["text_to_image"].inputSchema["properties"]["num_inference_steps"]
    assert steps["type"] == "number" and "between 1 and" in steps["description"]
    assert "photo" in tools["compare"].inputSchema["properties"]


def test_a_tool_call_generates_and_a_bad_one_says_what_is_allowed(mcp_url):
    args = {"prompt": "a lighthouse", "seed": 5, "num_inference_steps": 2, "width": 64, "height": 64}

    async def work(session):
        good = await session.call_tool("text_to_image", args)
        bad = await session.call_tool("text_to_image", {**args, "width": 60})
        return good, bad

    good, bad = _with_session(mcp_url, work)
    assert not good.isError, good.content
    text = " ".join(getattr(c, "text", "") for c in good.content)
    assert "text-seed5.png" in text and "seed 5 · 2 steps" in text
    assert bad.isError and "60" in bad.content[0].text and "64" in bad.content[0].text


# -- hostile clients at the HTTP edge (app.ui.edge) -------------------------------------------------------------

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _raw_tool_call(url: str, number_literal: str):
    import httpx

    arguments = '{"prompt": "x", "seed": 5, "num_inference_steps": 2, "width": 64, "height": 64, "guidance_scale": %s}'
    body = '{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "text_to_image", "arguments": %s}}'
    return httpx.post(url, content=body % (arguments % number_literal), headers=MCP_HEADERS, timeout=60)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_non_finite_argument_is_refused_by_name(mcp_url, literal):
    answer = _raw_tool_call(mcp_url, literal)
    assert answer.status_code == 200
    result = answer.json()["result"]
    text = result["content"][0]["text"]
    assert result["isError"] and answer.json()["id"] == 7
    assert "'guidance_scale'" in text and "finite" in text and (literal in text or "beyond a double" in text)


def test_a_body_with_an_unreadable_integer_gets_a_parse_error_not_a_500(mcp_url):
    answer = _raw_tool_call(mcp_url, "9" * 5000)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == -32700
    assert "4300 digits" in answer.json()["error"]["message"]
    served = _raw_tool_call(mcp_url, "7.0")  # and the server keeps serving
    assert served.status_code == 200 and "seed 5" in served.text and '"isError":true' not in served.text


def test_a_link_longer_than_any_studio_link_gets_414_and_a_page_that_says_so(served_app):
    import socket
    from urllib.parse import urlsplit

    host, port = urlsplit(served_app.url).hostname, urlsplit(served_app.url).port
    for length in (20_000, 1_000_000):  # the second is past uvicorn's default 16 KiB request line
        with socket.create_connection((host, port), timeout=60) as connection:
            request = f"GET /?recipe={'a' * length} HTTP/1.1\r\nHost: {host}\r\nAccept: text/html\r\n\r\n"
            connection.sendall(request.encode())
            answer = b""
            while b"</html>" not in answer:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 414"), answer[:100]
        assert b"This link is too long" in answer and f"{length + 8:,} bytes".encode() in answer
