"""The MCP server over stdio, for desktop hosts that start `iomqa mcp` themselves."""

from __future__ import annotations

from core.settings import Settings
from index.searcher import Searcher
from service.mcp.server import create_server, served
from service.reload import watched_holder


def serve_stdio(settings: Settings) -> None:
    """Serve until the host closes stdin. The served index follows new generations as the
    HTTP service does; permalinks are based on IOMQA_PUBLIC_URL (the web page's address)."""
    # Without an index the server still starts: each tool then says how to build one,
    # which a host shows, where a process that exits is only "failed to start".
    holder, watcher = watched_holder(settings)

    def searcher() -> Searcher:
        return served(holder)

    try:
        create_server(searcher, settings.public_url).run("stdio")
    finally:
        watcher.stop()
