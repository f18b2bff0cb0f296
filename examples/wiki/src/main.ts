// `pnpm demo`: starts the wiki on 127.0.0.1, seeds two wikis on first start, prints the URLs.
import { fileURLToPath } from 'node:url'
import { createLogger } from '@tenantry/log'
import { buildApp } from './app.js'

/** Wikis created on first start, each with a welcome page. */
export const DEMO_WIKIS = ['acme', 'globex'] as const

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
const dataDir = process.env.WIKI_DATA ?? fileURLToPath(new URL('../data', import.meta.url))
const databaseUrl = process.env.DATABASE_URL || undefined
const started = performance.now()

const app = await buildApp({
  dataDir,
  databaseUrl,
  publicUrl: `http://{tenant}.localhost:${port}`,
  logger: createLogger({ level: process.env.LOG_LEVEL ?? 'info' }),
})

const existing = await app.wiki.store.list()
if (existing.length === 0) {
  for (const name of DEMO_WIKIS) await app.wiki.createWiki(name)
}
await app.listen({ port, host })
const actual = (app.server.address() as { port: number }).port
const wikis = await app.wiki.store.list()

const lines = [
  '',
  `tenantry wiki: ${wikis.length} wiki(s) on ${app.wiki.store.kind === 'postgres' ? 'PostgreSQL (schema per wiki)' : `SQLite in ${dataDir}`}, ready in ${Math.round(performance.now() - started)} ms`,
  '',
  `  admin (create / destroy wikis):  http://localhost:${actual}/`,
  ...wikis.flatMap((w) => [
    `  ${w.padEnd(8)} by subdomain:  http://${w}.localhost:${actual}/`,
    `  ${w.padEnd(8)} by path:       http://localhost:${actual}/t/${w}/`,
  ]),
  '',
  '  (*.localhost resolves to 127.0.0.1 in browsers; with curl: curl --resolve acme.localhost:' +
    `${actual}:127.0.0.1 http://acme.localhost:${actual}/)`,
  '',
]
console.log(lines.join('\n'))

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  })
}
