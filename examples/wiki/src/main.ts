// `pnpm demo`: starts the wiki on 127.0.0.1, seeds two wikis on first start, prints the URLs.
// `pnpm demo --workers 4`: the same with four processes on one data root (see cluster.ts).
import cluster from 'node:cluster'
import { fileURLToPath } from 'node:url'
import { createLogger } from '@tenantry/log'
import { buildApp } from './app.js'
import { startWorkers, workersWanted } from './cluster.js'

/** Wikis created on first start, each with a welcome page. */
export const DEMO_WIKIS = ['acme', 'globex'] as const

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
const dataDir = process.env.WIKI_DATA ?? fileURLToPath(new URL('../data', import.meta.url))
const databaseUrl = process.env.DATABASE_URL || undefined
const started = performance.now()
const workers = cluster.isPrimary ? workersWanted(process.argv.slice(2), process.env) : 1

const app = await buildApp({
  dataDir,
  databaseUrl,
  publicUrl: `http://{tenant}.localhost:${port}`,
  logger: createLogger({ level: process.env.LOG_LEVEL ?? 'info' }),
})

if (cluster.isPrimary) {
  const existing = await app.wiki.store.list()
  if (existing.length === 0) {
    for (const name of DEMO_WIKIS) await app.wiki.createWiki(name)
  }
}
if (cluster.isPrimary && workers > 1) {
  // The primary only seeds and supervises; each worker is a whole app on the shared port.
  const wikis = await app.wiki.store.list()
  await app.close()
  printUrls(await startWorkers(workers), wikis, `${workers} processes, `)
} else {
  await app.listen({ port, host })
  if (cluster.isPrimary)
    printUrls((app.server.address() as { port: number }).port, await app.wiki.store.list(), '')
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      app.close().then(
        () => process.exit(0),
        () => process.exit(1),
      )
    })
  }
}

function printUrls(actual: number, wikis: string[], processes: string): void {
  const lines = [
    '',
    `tenantry wiki: ${wikis.length} wiki(s) on ${app.wiki.store.kind === 'postgres' ? 'PostgreSQL (schema per wiki)' : `SQLite in ${dataDir}`}, ${processes}ready in ${Math.round(performance.now() - started)} ms`,
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
}
