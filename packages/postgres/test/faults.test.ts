// Server and network faults under the PostgreSQL store: a backend terminated mid-migration (with
// no query running, and with one running), an idle-in-transaction timeout, a read-only server
// (what a failover leaves behind), a full lock table. Each must reject the call with its own
// code, leave no half-made tenant, and leave the process and the store working.
import { createTenancy, isTenantryError } from '@tenantry/context'
import { type Migration, sql } from 'kysely'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { faultOf } from '../src/faults.js'
import {
  createPostgresRowLevelTenantDatabases,
  createPostgresTenantDatabases,
  type PostgresTenantDatabases,
  schemaFor,
} from '../src/index.js'
import { DATABASE_URL, runPrefix, SKIP, schemasLike, suiteName } from './helpers.js'

const run = runPrefix()
const suite = SKIP === undefined ? describe : describe.skip

function deferred<T = void>() {
  let resolve!: (v: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

const table: Migration = {
  up: (db) => db.schema.createTable('note').addColumn('id', 'integer').execute(),
}

async function admin<R>(fn: (c: pg.Client) => Promise<R>): Promise<R> {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Waits (bounded) until backend `pid` is gone from pg_stat_activity. */
async function gone(pid: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const { rows } = await admin((c) =>
      c.query('select 1 from pg_stat_activity where pid = $1', [pid]),
    )
    if (rows.length === 0) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`backend ${pid} still alive`)
}

const codeOf = async (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (isTenantryError(e) ? e.code : e),
  )

suite(suiteName('postgres: faults'), () => {
  const stores: PostgresTenantDatabases<any>[] = []
  afterAll(async () => {
    for (const s of stores) await s.close()
  })
  const make = (migrations: Record<string, Migration>, prefix: string, url = DATABASE_URL) => {
    const store = createPostgresTenantDatabases({
      connectionString: url,
      migrations,
      tenancy: createTenancy(),
      schemaPrefix: `${run}${prefix}_`,
      registrySchema: `${run}registry`,
      poolMax: 3,
    })
    stores.push(store)
    return store
  }

  it('rejects createTenant with TENANTRY_CONNECTION_LOST when the backend is terminated between two queries of a migration', async () => {
    const started = deferred<number>()
    const resume = deferred()
    const store = make(
      {
        '001_note': table,
        '002_wait': {
          async up(db) {
            const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)
            started.resolve(rows[0]!.pid)
            await resume.promise // no query in flight: the client's 'error' event has no query
            await db.schema.createTable('after').addColumn('id', 'integer').execute()
          },
        },
      },
      'term',
    )
    const creating = codeOf(store.createTenant('victim'))
    const pid = await started.promise
    await admin((c) => c.query('select pg_terminate_backend($1)', [pid]))
    await gone(pid)
    resume.resolve()
    expect(await creating).toBe('TENANTRY_CONNECTION_LOST')
    // Nothing half-made, and the same store (same pool) goes on working.
    expect(await store.exists('victim')).toBe(false)
    expect(await schemasLike(schemaFor(`${run}term_`, 'victim'))).toEqual([])
    const ok = make({ '001_note': table }, 'term')
    await ok.createTenant('victim')
    expect(await ok.list()).toEqual(['victim'])
  })

  it('rejects a row-level createTenant with TENANTRY_CONNECTION_LOST when the backend is terminated mid-migration', async () => {
    const started = deferred<number>()
    const resume = deferred()
    const store = createPostgresRowLevelTenantDatabases({
      connectionString: DATABASE_URL,
      migrations: {
        '001_note': table,
        '002_wait': {
          async up(db) {
            const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)
            started.resolve(rows[0]!.pid)
            await resume.promise
            await sql`select 1`.execute(db)
          },
        },
      },
      tenancy: createTenancy(),
      dataSchema: `${run}rows`,
      registrySchema: `${run}registry`,
      poolMax: 3,
    })
    try {
      const creating = codeOf(store.createTenant('victim'))
      const pid = await started.promise
      await admin((c) => c.query('select pg_terminate_backend($1)', [pid]))
      await gone(pid)
      resume.resolve()
      expect(await creating).toBe('TENANTRY_CONNECTION_LOST')
      expect(await store.exists('victim')).toBe(false)
    } finally {
      await store.close()
    }
  })

  it('rejects with TENANTRY_CONNECTION_LOST when the backend is terminated during a query', async () => {
    const started = deferred<number>()
    const store = make(
      {
        '001_note': table,
        '002_slow': {
          async up(db) {
            const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)
            started.resolve(rows[0]!.pid)
            await sql`select pg_sleep(60)`.execute(db)
          },
        },
      },
      'midq',
    )
    const creating = codeOf(store.createTenant('victim'))
    const pid = await started.promise
    // Wait until the sleep runs, then kill it.
    for (let i = 0; i < 500; i++) {
      const { rows } = await admin((c) =>
        c.query("select 1 from pg_stat_activity where pid = $1 and query like '%pg_sleep%'", [pid]),
      )
      if (rows.length > 0) break
      await new Promise((r) => setTimeout(r, 20))
    }
    await admin((c) => c.query('select pg_terminate_backend($1)', [pid]))
    expect(await creating).toBe('TENANTRY_CONNECTION_LOST')
    expect(await store.exists('victim')).toBe(false)
  })

  it('rejects with TENANTRY_CONNECTION_LOST when an idle-in-transaction timeout ends the session', async () => {
    const started = deferred<number>()
    const resume = deferred()
    const store = make(
      {
        '001_note': table,
        '002_idle': {
          async up(db) {
            await sql`set local idle_in_transaction_session_timeout = 50`.execute(db)
            const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)
            started.resolve(rows[0]!.pid)
            await resume.promise
            await sql`select 1`.execute(db)
          },
        },
      },
      'idle',
    )
    const creating = codeOf(store.createTenant('victim'))
    await gone(await started.promise) // the server ends the idle session by itself
    resume.resolve()
    expect(await creating).toBe('TENANTRY_CONNECTION_LOST')
    expect(await store.exists('victim')).toBe(false)
  })

  it('rejects with TENANTRY_DATABASE_FAILOVER on a read-only server (a standby after failover)', async () => {
    const url = new URL(DATABASE_URL!)
    url.searchParams.set('options', '-c default_transaction_read_only=on')
    // The registry exists (made by a writable store); the read-only one then cannot create.
    const writable = make({ '001_note': table }, 'ro')
    await writable.createTenant('before')
    const readOnly = make({ '001_note': table }, 'ro', url.toString())
    expect(await readOnly.list()).toEqual(['before'])
    expect(await codeOf(readOnly.createTenant('after'))).toBe('TENANTRY_DATABASE_FAILOVER')
    expect(await writable.list()).toEqual(['before'])
  })

  it('rejects with TENANTRY_OUT_OF_SHARED_MEMORY when the lock table is full', async () => {
    // Filling the real lock table would fail every other test on this shared server: the
    // migration throws PostgreSQL's error (SQLSTATE 53200) as the server would.
    const store = make(
      {
        '001_note': table,
        '002_locks': {
          async up() {
            throw Object.assign(new Error('out of shared memory'), {
              code: '53200',
              hint: 'You might need to increase max_locks_per_transaction.',
            })
          },
        },
      },
      'oom',
    )
    const error = await store.createTenant('victim').catch((e: unknown) => e)
    expect(isTenantryError(error, 'TENANTRY_OUT_OF_SHARED_MEMORY')).toBe(true)
    expect((error as Error).message).toContain('max_locks_per_transaction')
    expect((error as { tenant?: string }).tenant).toBe('victim')
    expect(await store.exists('victim')).toBe(false)
  })
})

describe('faultOf', () => {
  it('tells connection, failover and lock-table faults from other errors', () => {
    expect(faultOf(Object.assign(new Error('x'), { code: '57P01' }))).toBe('connection')
    expect(faultOf(Object.assign(new Error('x'), { code: '08006' }))).toBe('connection')
    expect(faultOf(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe('connection')
    expect(faultOf(new Error('Connection terminated unexpectedly'))).toBe('connection')
    expect(faultOf(Object.assign(new Error('x'), { code: '25006' }))).toBe('failover')
    expect(faultOf(Object.assign(new Error('x'), { code: '57P03' }))).toBe('failover')
    expect(faultOf(Object.assign(new Error('x'), { code: '53200' }))).toBe('shared-memory')
    expect(
      faultOf(new Error('wrapped', { cause: Object.assign(new Error('x'), { code: '57P01' }) })),
    ).toBe('connection')
    expect(faultOf(Object.assign(new Error('x'), { code: '23505' }))).toBeUndefined()
    expect(faultOf(new Error('boom'))).toBeUndefined()
  })
})
