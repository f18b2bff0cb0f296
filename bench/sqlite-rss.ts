// RSS of touching 10,000 SQLite tenants under cap 256, measured in a fresh child process so that
// the memory a bench freed earlier (populating, other sections) cannot hide growth or fake it.
// The parent populates a root (one store-made tenant copied 9,999 times) and spawns this file
// twice per run: `store` installs @tenantry/sqlite with cap 256 and reads one row per tenant;
// `raw` is the floor, 256 read-only better-sqlite3 connections round-robin (LRU) over the same
// files with one prepared statement each. Each child reads its baseline after setup and its end
// after the loop, each after a gc() and a fixed RSS_SETTLE_MS wait, and
// prints one JSON line: RSS, JS heap and open FDs over that baseline.
import { spawn } from 'node:child_process'
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createTenancy } from '@tenantry/context'
import { createTenantDatabases } from '@tenantry/sqlite'
import Database from 'better-sqlite3'
import type { Kysely } from 'kysely'
import { fiveTableMigrations } from './fixtures.ts'

/** What one child measured, in MiB and descriptors over its own baseline. */
export interface RssSample {
  rssMiB: number
  heapMiB: number
  /**
   * V8's share of the growth: heap committed (new space grows with garbage and stays: RSS that
   * is not SQLite).
   */
  v8MiB: number
  /** Everything else: rssMiB − v8MiB (SQLite page caches, malloc arenas, native handles). */
  nativeMiB: number
  fds: number
  ms: number
  /** RSS growth split as /proc/self/status counts it: anonymous, file-backed, shared memory. */
  anonMiB: number
  fileMiB: number
  shmemMiB: number
  /** Most tenant handles open at once (a cap that lags shows here, not in the end state). */
  peakHandles: number
}

export const RSS_TENANTS = 10_000
export const RSS_CAP = 256
const fds = () => readdirSync('/proc/self/fd').length
/** RssAnon, RssFile, RssShmem in MiB. */
function rssSplit(): [number, number, number] {
  const status = readFileSync('/proc/self/status', 'utf8')
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024
  return [kb('RssAnon'), kb('RssFile'), kb('RssShmem')]
}
const gc = () => (globalThis as { gc?: () => void }).gc?.()
/** Wait after a gc() before each reading, so freed pages settle alike on both sides. */
export const RSS_SETTLE_MS = 250
async function settle(): Promise<void> {
  gc()
  await new Promise((r) => setTimeout(r, RSS_SETTLE_MS))
}

function storeOn(root: string, cap?: number) {
  const tenancy = createTenancy()
  // RSS_STORE_OPTIONS (JSON): extra store options, for finding where the memory goes.
  const extra = JSON.parse(process.env.RSS_STORE_OPTIONS ?? '{}') as object
  const store = createTenantDatabases<any>({
    root,
    migrations: fiveTableMigrations(),
    tenancy,
    cap,
    ...extra,
  }).install(tenancy)
  return { tenancy, store }
}

/** Fills `root` with `count` tenants (one created by the store, copied) and lists their files. */
export async function populateRss(root: string, count = RSS_TENANTS): Promise<void> {
  const { store } = storeOn(root)
  await store.createTenant('t0')
  await store.close()
  const one = store.tenantPath('t0')
  const files = [one]
  for (let i = 1; i < count; i++) {
    const file = store.tenantPath(`t${i}`)
    mkdirSync(dirname(file), { recursive: true })
    copyFileSync(one, file)
    files.push(file)
  }
  writeFileSync(join(root, 'files.txt'), files.join('\n'))
}

/** Runs one measuring child on a populated root. */
export function measureRss(root: string, mode: 'store' | 'raw'): Promise<RssSample> {
  const child = spawn(
    process.execPath,
    ['--conditions=tenantry-source', '--expose-gc', '--import', 'tsx', import.meta.filename],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RSS_CHILD: `${mode}:${root}` } },
  )
  let out = ''
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
  })
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? ''
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as RssSample)
      else reject(new Error(`rss child (${mode}) exited ${code}: ${out}`))
    }),
  )
}

async function child(mode: string, root: string): Promise<RssSample> {
  // For finding where memory goes: RSS_TOUCHES touches other than 10,000 (per-open cost grows
  // with it, what open handles hold does not); RSS_DISTINCT cycles over fewer tenants (the
  // same number of opens under the cap, less per-tenant state).
  const touches = Number(process.env.RSS_TOUCHES ?? RSS_TENANTS)
  const tenants = Array.from(
    { length: touches },
    (_, i) => `t${i % Number(process.env.RSS_DISTINCT ?? RSS_TENANTS)}`,
  )
  let touch: (i: number) => unknown
  let close: () => Promise<void> | void
  let handles: () => number
  if (mode === 'store') {
    const { tenancy, store } = storeOn(root, RSS_CAP)
    touch = (i) =>
      tenancy.withTenant(tenants[i]!, () =>
        (tenancy.getResource('db') as Kysely<any>)
          .selectFrom('page')
          .selectAll()
          .limit(1)
          .execute(),
      )
    close = () => store.close()
    // The store class's diagnostic getter (not on the public interface).
    handles = () => (store as unknown as { openHandles: number }).openHandles
  } else {
    const files = readFileSync(join(root, 'files.txt'), 'utf8').split('\n')
    const open = new Map<number, { db: Database.Database; read: Database.Statement }>()
    touch = (i) => {
      let h = open.get(i)
      if (h === undefined) {
        if (open.size >= RSS_CAP) {
          const [k, old] = open.entries().next().value!
          open.delete(k)
          old.db.close()
        }
        const db = new Database(files[i % RSS_TENANTS]!, { readonly: true })
        h = { db, read: db.prepare('select * from page limit 1') }
        open.set(i, h)
      }
      return h.read.all()
    }
    close = () => {
      for (const h of open.values()) h.db.close()
    }
    handles = () => open.size
  }
  await settle()
  const m0 = process.memoryUsage()
  const s0 = rssSplit()
  const fd0 = fds()
  const t0 = process.hrtime.bigint()
  let peakHandles = 0
  for (let i = 0; i < tenants.length; i++) {
    await touch(i)
    peakHandles = Math.max(peakHandles, handles())
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  await settle()
  const m1 = process.memoryUsage()
  const s1 = rssSplit()
  const rssMiB = (m1.rss - m0.rss) / 2 ** 20
  const v8MiB = (m1.heapTotal - m0.heapTotal) / 2 ** 20
  const sample = {
    rssMiB,
    heapMiB: (m1.heapUsed - m0.heapUsed) / 2 ** 20,
    v8MiB,
    nativeMiB: rssMiB - v8MiB,
    anonMiB: s1[0] - s0[0],
    fileMiB: s1[1] - s0[1],
    shmemMiB: s1[2] - s0[2],
    fds: fds() - fd0,
    ms,
    peakHandles,
  }
  await close()
  return sample
}

const role = process.env.RSS_CHILD
if (role !== undefined) {
  const at = role.indexOf(':')
  console.log(JSON.stringify(await child(role.slice(0, at), role.slice(at + 1))))
}
