import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp, type WikiApp } from '../src/app.js'

/**
 * A wiki app on a fresh temp data folder with `acme` and `globex` seeded; on PostgreSQL when
 * `databaseUrl` is given (schemas under `schemaPrefix`, all destroyed by `stop`).
 */
export async function startWiki(
  pg: { databaseUrl?: string | undefined; schemaPrefix?: string | undefined } = {},
): Promise<{ app: WikiApp; dataDir: string; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tenantry-wiki-'))
  const app = await buildApp({ dataDir, publicUrl: 'http://{tenant}.localhost:3000', ...pg })
  try {
    await app.wiki.createWiki('acme')
    await app.wiki.createWiki('globex')
  } catch (error) {
    await app.close()
    throw error
  }
  return {
    app,
    dataDir,
    async stop() {
      try {
        if (pg.databaseUrl !== undefined)
          for (const t of await app.wiki.store.list()) await app.wiki.destroyWiki(t)
      } finally {
        await app.close()
        rmSync(dataDir, { recursive: true, force: true })
      }
    },
  }
}

/** A url-encoded form body. */
export function form(fields: Record<string, string>): {
  payload: string
  headers: Record<string, string>
} {
  return {
    payload: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  }
}

/** A multipart body with one file in field `file`, encoded by Node's own `Request`. */
export async function upload(
  name: string,
  content: string,
): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const data = new FormData()
  data.append('file', new Blob([content], { type: 'text/plain' }), name)
  const request = new Request('http://upload.test/', { method: 'POST', body: data })
  return {
    payload: Buffer.from(await request.arrayBuffer()),
    headers: { 'content-type': request.headers.get('content-type')! },
  }
}
