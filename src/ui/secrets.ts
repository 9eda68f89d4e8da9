/**
 * What is shown with a new key: the once-only warning and the MCP client
 * configuration. Writing a key file lives in key-output.ts.
 */
import {closeSync, fsyncSync, openSync, unlinkSync, writeSync} from 'node:fs'
import path from 'node:path'
import {ConflictError, ValidationError} from '../errors.js'

/** A new file (mode 0600, never overwritten) that holds a secret: written whole, then fsynced. */
export interface SecretFile {
  path: string
  /** Write the whole content, fsync and close: on disk before the database commits. */
  write(content: string | Uint8Array): void
  /** Close if still open and remove the file (the change it belonged to failed). */
  abort(): void
}

export function openSecretFile(file: string, what = 'Key file'): SecretFile {
  const full = path.resolve(file)
  let fd: number
  try {
    fd = openSync(full, 'wx', 0o600)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST')
      throw new ConflictError(`${what} ${full} already exists; it is never overwritten. Choose a new path.`)
    throw new ValidationError(
      `Cannot create ${what.toLowerCase()} ${full} (${code ?? 'error'}); check the directory exists and is writable.`,
    )
  }
  let open = true
  return {
    path: full,
    write(content) {
      const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content
      let done = 0
      while (done < data.length) done += writeSync(fd, data, done, data.length - done)
      fsyncSync(fd)
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

/** fsync a directory, so the entries of files just created in it survive a crash. */
export function syncDirectory(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // Some filesystems refuse fsync on a directory: the files themselves are synced.
  } finally {
    if (fd !== undefined) closeSync(fd)
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
