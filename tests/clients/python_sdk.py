"""Drives `reel serve` with the official MCP Python SDK (PyPI `mcp`), a client no one here wrote.

Usage: python_sdk.py stdio REEL REPO MODE
       python_sdk.py http URL TOKEN MODE
MODE is `legacy` (the 2025-11-25 initialize handshake) or `2026-07-28` (the SDK's
default `auto`: `server/discover`, then stateless requests at 2026-07-28 with no
handshake; the test checks that this is the version it lands on). The SDK validates every successful tool result against the tool's
outputSchema itself (and raises if one does not match). Prints `ok <what>` lines and
exits non-zero on the first failure; run by tests/integration/mcp_clients.rs.
"""

import asyncio
import base64
import os
import sys

import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

TOOLS = 26


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok {what}", flush=True)


def structured(result, what):
    check(not result.is_error, f"{what} succeeded ({result.content[:1]})")
    return result.structured_content


async def workflow(client, mode):
    check(client.server_info is not None and client.server_info.name == "reelstore",
          f"serverInfo names reelstore ({client.server_info})")
    expected = "2025-11-25" if mode == "legacy" else "2026-07-28"
    check(client.protocol_version == expected, f"protocol {client.protocol_version}")

    tools = (await client.list_tools()).tools
    check(len(tools) == TOOLS, f"{len(tools)} tools listed")
    for t in tools:
        check(t.output_schema is not None and t.title, f"{t.name} has an outputSchema and a title")

    # One process per call (stdio) or one request per call (2026-07-28): the default
    # scope is the user's, so nothing depends on a connection.
    p = structured(await client.call_tool("artifact_create_project", {"name": "SDK", "fps": 30}),
                   "create_project")
    check(p["scope"] == "user", "default scope is user")
    pid = p["id"]
    root = "export const Root = () => null;\n"
    structured(await client.call_tool("artifact_write_file",
                                      {"project_id": pid, "path": "src/Root.tsx", "content": root}),
               "write_file")
    structured(await client.call_tool("artifact_create_checkpoint", {"project_id": pid, "name": "v1"}),
               "checkpoint v1")
    structured(await client.call_tool("artifact_write_file",
                                      {"project_id": pid, "path": "src/Root.tsx",
                                       "content": root.replace("null", "<div/>")}),
               "edit")
    structured(await client.call_tool("artifact_create_checkpoint", {"project_id": pid, "name": "v2"}),
               "checkpoint v2")
    diff = structured(await client.call_tool("artifact_diff", {"project_id": pid, "from": "v1", "to": "v2"}),
                      "diff")
    check([c["path"] for c in diff["changes"]] == ["src/Root.tsx"], f"diff names the edit {diff}")
    # The diff with its lines, as the MCP App asks for it.
    lines = structured(await client.call_tool("artifact_diff", {"project_id": pid, "from": "v1", "to": "v2",
                                                                "lines": True}), "diff with lines")
    hunk_lines = [l["op"] + l["text"] for l in lines["patches"][0]["body"]["hunks"][0]["lines"]]
    check(hunk_lines == ["-export const Root = () => null;", "+export const Root = () => <div/>;"],
          f"the patch holds the changed line {hunk_lines}")

    # MCP Apps: the extension is declared, the diff and render tools link their pages,
    # and the pages read as mcp-app HTML.
    ext = client.server_capabilities.extensions or {}
    check("text/html;profile=mcp-app" in ext.get("io.modelcontextprotocol/ui", {}).get("mimeTypes", []),
          f"the ui extension is declared ({ext})")
    by_name = {t.name: t for t in tools}
    apps = {"artifact_diff": "ui://reelstore/checkpoint-diff.html",
            "artifact_render_video": "ui://reelstore/render-player.html"}
    for name, uri in apps.items():
        meta = by_name[name].meta or {}
        check(meta.get("ui", {}).get("resourceUri") == uri, f"{name} links {uri} ({meta})")
        page = (await client.read_resource(uri)).contents[0]
        check(page.mime_type == "text/html;profile=mcp-app" and page.text.startswith("<!doctype html>")
              and "ui/initialize" in page.text, f"{uri} reads as an MCP App page")
    listed = {r.uri: r for r in (await client.list_resources()).resources}
    check(all(listed[u].mime_type == "text/html;profile=mcp-app" for u in apps.values()),
          "resources/list names both pages")

    log = structured(await client.call_tool("artifact_log", {"project_id": pid}), "log")
    check([e.get("name") for e in log["log"]] == ["v2", "v1"], "log newest first")
    structured(await client.call_tool("artifact_restore_checkpoint", {"project_id": pid, "checkpoint": "v1"}),
               "restore v1")

    # The resource template is {+path}: the SDK sends the slash as a slash.
    templates = (await client.list_resource_templates()).resource_templates
    check(any("{+path}" in t.uri_template for t in templates), "templates use {+path}")
    read = await client.read_resource(f"reel://projects/{pid}/files/src/Root.tsx")
    check(read.contents[0].text == root, "resource read of src/Root.tsx after restore")

    # Strict inputs: an unknown argument is an isError result naming it, with a code.
    bad = await client.call_tool("artifact_list_files", {"project_id": pid, "recursve": True})
    check(bad.is_error and bad.structured_content["error"]["code"] == "invalid_argument"
          and "recursve" in bad.structured_content["error"]["message"], "unknown argument refused")
    missing = await client.call_tool("artifact_get_project", {"project_id": "0" * 32})
    check(missing.is_error and missing.structured_content["error"]["code"] == "not_found", "not_found code")

    # A 6 MiB binary file, base64 in the request (8 MiB of JSON).
    blob = os.urandom(6 << 20)
    structured(await client.call_tool("artifact_write_file",
                                      {"project_id": pid, "path": "footage/clip.bin",
                                       "content_base64": base64.b64encode(blob).decode()}),
               "6 MiB write")
    back = structured(await client.call_tool("artifact_read_file",
                                             {"project_id": pid, "path": "footage/clip.bin", "base64": True}),
                      "6 MiB read")
    check(base64.b64decode(back["content_base64"]) == blob, "6 MiB round trip")
    return pid


def sdk_mode(mode):
    return "legacy" if mode == "legacy" else "auto"


async def main():
    kind, a, b, mode = sys.argv[1:5]
    if kind == "stdio":
        reel, repo = a, b
        server = StdioServerParameters(command=reel, args=["serve", "--repo", repo],
                                       env={**os.environ, "REEL_USER": "sdk"})
        async with Client(server, mode=sdk_mode(mode)) as client:
            pid = await workflow(client, mode)
        # A second server process (one per call, as the Inspector CLI runs) finds it.
        async with Client(server, mode=sdk_mode(mode)) as client:
            got = await client.call_tool("artifact_get_project", {"project_id": pid})
            check(not got.is_error, "a new server process finds the project")
    else:
        url, token = a, b
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
            async with Client(streamable_http_client(url, http_client=http), mode=sdk_mode(mode)) as client:
                await workflow(client, mode)
    print("all ok", flush=True)


asyncio.run(main())
