/**
 * What is shown with a new key: the once-only warning and the MCP client
 * configuration. Writing a key file lives in key-output.ts.
 */
export const KEY_WARNING = 'This key is shown once and cannot be recovered: store it now.'

/**
 * The MCP client configuration for a user's key, exactly as the server's own
 * register endpoint builds it (api/app/routers/auth.py lines 107-120 @af5cf74e):
 * supergateway bridging the server's SSE endpoint `GET /mcp/{client}/sse`
 * (api/app/mcp_server.py line 32) to stdio, the key as a Bearer token.
 */
export function mcpConfig(apiUrl: string, client: string, apiKey: string): Record<string, unknown> {
  return {
    mcpServers: {
      openmemory: {
        command: 'npx',
        args: ['-y', 'supergateway', '--sse', mcpSseUrl(apiUrl, client), '--oauth2Bearer', apiKey],
      },
    },
  }
}

/** `<api>/mcp/<client>/sse`, the API base URL keeping any base path. */
export function mcpSseUrl(apiUrl: string, client: string): string {
  return `${apiUrl.replace(/\/+$/, '')}/mcp/${encodeURIComponent(client)}/sse`
}

/** The server's own config names the client `claude`. */
export const DEFAULT_MCP_CLIENT = 'claude'
/** A path segment of `/mcp/{client}/sse`: plain, so the URL needs no escaping. */
export const MCP_CLIENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export const DEFAULT_API_URL = 'http://localhost:8765'
