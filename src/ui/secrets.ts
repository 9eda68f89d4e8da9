/**
 * Where a new plain key goes: stdout once (with a warning on stderr), or a
 * new file with mode 0600 that is never overwritten. The file is created
 * before the database change, so a file problem writes nothing to the
 * database, and removed again if the change fails.
 */
import {closeSync, openSync, unlinkSync, writeSync} from 'node:fs'
import path from 'node:path'
import {ConflictError, ValidationError} from '../errors.js'

export interface KeySink {
  path: string
  write(key: string): void
  abort(): void
}

export function openKeyFile(file: string): KeySink {
  const full = path.resolve(file)
  let fd: number
  try {
    fd = openSync(full, 'wx', 0o600)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST')
      throw new ConflictError(`Key file ${full} already exists; it is never overwritten. Choose a new path.`)
    throw new ValidationError(
      `Cannot create key file ${full} (${code ?? 'error'}); check the directory exists and is writable.`,
    )
  }
  let open = true
  return {
    path: full,
    write(key) {
      writeSync(fd, `${key}\n`)
      closeSync(fd)
      open = false
    },
    abort() {
      if (open) closeSync(fd)
      open = false
      try {
        unlinkSync(full)
      } catch {}
    },
  }
}

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
