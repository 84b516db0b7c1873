"""The MCP (Model Context Protocol) server: the search and citations of /ask as tools an AI
assistant calls, over stdio (`iomqa mcp`) or streamable HTTP (`/mcp` in the service)."""
