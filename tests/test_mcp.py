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
