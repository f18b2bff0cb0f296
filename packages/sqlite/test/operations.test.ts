// Tenant operations on SQLite through the store: complete destroy (files, jobs, cache entries),
// listener failures, backups under load, verified restores.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tenantKey } from '@tenantry/cache'
import { createTenancy } from '@tenantry/context'
import { createWorker, defineBackupJob, defineJob } from '@tenantry/jobs'
import { tenantFilesDir } from '@tenantry/storage'
import { tempDir } from '@tenantry/test-utils'
import { type Kysely, type Migration, sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { createTenantDatabases } from '../src/index.js'
import {
  type AttachedStore,
  attachedStore,
  closeAttachedStores,
} from './fixtures/attached-store.js'
import { filesUnder } from './helpers.js'

const migrations: Record<string, Migration> = {
  '001_item': {
    up: (db) =>
      db.schema
        .createTable('item')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('writer', 'integer', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('body', 'blob')
        .execute(),
    down: (db) => db.schema.dropTable('item').execute(),
  },
  '002_counter': {
    up: (db) =>
      db.schema
        .createTable('counter')
        .addColumn('writer', 'integer', (c) => c.primaryKey())
        .addColumn('n', 'integer', (c) => c.notNull())
        .execute(),
    down: (db) => db.schema.dropTable('counter').execute(),
  },
}

type Fixture = AttachedStore

afterEach(closeAttachedStores)

function fixture(root = tempDir('tenantry-ops-')): Fixture {
  return attachedStore(root, migrations)
}

async function populate(f: Fixture, tenant: string): Promise<string> {
  await f.store.createTenant(tenant)
  await f.tenancy.withTenant(tenant, async () => {
    await f
      .db()
      .insertInto('item')
      .values({ writer: 0, seq: 1, body: Buffer.from('x') })
      .execute()
  })
  const files = tenantFilesDir(f.root, tenant)
  mkdirSync(join(files, 'docs'), { recursive: true })
  writeFileSync(join(files, 'docs', 'a.txt'), tenant)
  const job = defineJob('noop', () => {}, { tenancy: f.tenancy, backend: f.jobs })
  await f.tenancy.withTenant(tenant, () => job.enqueue({}, { delay: 3_600_000 }))
  f.cache.set(tenantKey('page', tenant), tenant)
  return files
}

const jobCount = (f: Fixture, tenant: string) =>
  (f.jobs as unknown as { db: import('better-sqlite3').Database }).db
    .prepare('select count(*) as n from tenantry_jobs where tenant = ?')
    .get(tenant) as { n: number }

describe('destroyTenant with storage, jobs and cache attached', () => {
  it('leaves no file, row, job or cache entry of the tenant, and a re-created one starts empty', async () => {
    const f = fixture()
    await populate(f, 'acme')
    await populate(f, 'globex')
    await f.store.destroyTenant('acme')
    expect(filesUnder(f.root).filter((p) => p.includes('acme'))).toEqual([])
    expect(existsSync(join(f.root, 'tenants', 'acme'))).toBe(false)
    expect(jobCount(f, 'acme').n).toBe(0)
    expect(f.cache.has(tenantKey('page', 'acme'))).toBe(false)
    // The other tenant keeps everything.
    expect(readFileSync(join(tenantFilesDir(f.root, 'globex'), 'docs', 'a.txt'), 'utf8')).toBe(
      'globex',
    )
    expect(jobCount(f, 'globex').n).toBe(1)
    expect(f.cache.get(tenantKey('page', 'globex'))).toBe('globex')
    await f.store.createTenant('acme')
    expect(existsSync(tenantFilesDir(f.root, 'acme'))).toBe(false)
    const rows = await f.tenancy.withTenant('acme', () =>
      f.db().selectFrom('item').selectAll().execute(),
    )
    expect(rows).toEqual([])
  })

  it('a failing destroying listener aborts the destroy: the tenant stays whole and visible', async () => {
    const f = fixture()
    const files = await populate(f, 'acme')
    const off = f.store.lifecycle.on('destroying', () => {
      throw new Error('archive service down')
    })
    await expect(f.store.destroyTenant('acme')).rejects.toMatchObject({
      code: 'TENANTRY_LIFECYCLE_LISTENER',
      tenant: 'acme',
    })
    off()
    expect(await f.store.exists('acme')).toBe(true)
    expect(await f.store.list()).toContain('acme')
    expect(readFileSync(join(files, 'docs', 'a.txt'), 'utf8')).toBe('acme')
    expect(jobCount(f, 'acme').n).toBe(1)
    const rows = await f.tenancy.withTenant('acme', () =>
      f.db().selectFrom('item').selectAll().execute(),
    )
    expect(rows).toHaveLength(1)
  })

  it('a failing destroyed listener: the tenant is gone, TenantCleanupError names it, leftovers go on purge or re-create', async () => {
    const f = fixture()
    const files = await populate(f, 'acme')
    let failing = true
    f.store.lifecycle.on('creating', () => {
      if (failing) throw new Error('still failing')
    })
    // Registered before storage's listener runs? No: after. Storage removed the files already;
    // make one that fails and leaves a marker of its own.
    const marker = join(f.root, 'marker-acme')
    writeFileSync(marker, '')
    f.store.lifecycle.on('destroyed', ({ tenant }) => {
      if (failing) throw new Error(`cannot reach the search index for ${tenant}`)
    })
    const error = await f.store.destroyTenant('acme').catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'TENANTRY_TENANT_CLEANUP', tenant: 'acme' })
    expect(await f.store.exists('acme')).toBe(false)
    expect(existsSync(files)).toBe(false) // the listeners before the failing one still ran
    // creating fails too while the cause lasts: nothing is created.
    await expect(f.store.createTenant('acme')).rejects.toMatchObject({
      code: 'TENANTRY_LIFECYCLE_LISTENER',
    })
    expect(await f.store.exists('acme')).toBe(false)
    failing = false
    await f.store.purgeTenant('acme')
    await f.store.createTenant('acme')
    expect(await f.store.exists('acme')).toBe(true)
    await expect(f.store.purgeTenant('acme')).rejects.toMatchObject({
      code: 'TENANTRY_TENANT_STILL_EXISTS',
    })
  })

  it('emits created and migrated', async () => {
    const f = fixture()
    const seen: string[] = []
    f.store.lifecycle.on('created', ({ tenant }) => {
      seen.push(`created ${tenant}`)
    })
    await f.store.createTenant('acme')
    await f.store.createTenant('acme', { ifNotExists: true }) // no second event
    expect(seen).toEqual(['created acme'])
    const later = createTenantDatabases<any>({
      root: f.root,
      tenancy: createTenancy(),
      migrations: {
        ...migrations,
        '003_more': { up: (db) => db.schema.createTable('more').addColumn('x', 'text').execute() },
      },
    })
    later.lifecycle.on('migrated', ({ tenant, applied }) => {
      seen.push(`migrated ${tenant} ${applied.join(',')}`)
    })
    await later.migrateTenant('acme')
    await later.migrateTenant('acme')
    await later.close()
    expect(seen).toEqual(['created acme', 'migrated acme 003_more'])
  })
})

describe('backup and restore', () => {
  it('a backup taken while 4 writers run restores to a consistent snapshot, row for row', async () => {
    const f = fixture()
    await f.store.createTenant('busy')
    const files = tenantFilesDir(f.root, 'busy')
    mkdirSync(files, { recursive: true })
    writeFileSync(join(files, 'logo.png'), Buffer.from([0, 1, 2, 255]))
    let stop = false
    const writer = (w: number) =>
      f.tenancy.withTenant('busy', async () => {
        for (let seq = 1; !stop; seq++) {
          // One transaction: the item and the writer's counter move together.
          await f
            .db()
            .transaction()
            .execute(async (trx) => {
              await trx
                .insertInto('item')
                .values({ writer: w, seq, body: Buffer.alloc(64, w) })
                .execute()
              await trx
                .insertInto('counter')
                .values({ writer: w, n: seq })
                .onConflict((oc) => oc.column('writer').doUpdateSet({ n: seq }))
                .execute()
            })
          if (seq % 7 === 0) await new Promise((r) => setImmediate(r))
        }
      })
    const writers = [1, 2, 3, 4].map(writer)
    // Let every writer commit something before the backup starts.
    await waitUntil(async () => (await count(f, 'busy', 'counter')) === 4)
    const dest = join(f.root, 'backups', 'busy.tar')
    await f.store.backupTenant('busy', dest)
    stop = true
    await Promise.all(writers)
    expect(readdirSync(join(f.root, 'backups'))).toEqual(['busy.tar']) // no .partial left
    const r = await f.store.restoreTenant(dest, { as: 'busy-copy' })
    expect(r).toMatchObject({
      tenant: 'busy-copy',
      manifest: { tenant: 'busy', backend: 'sqlite' },
    })
    const restored = await f.tenancy.withTenant('busy-copy', async () => ({
      items: await f.db().selectFrom('item').selectAll().orderBy('id').execute(),
      counters: await f.db().selectFrom('counter').selectAll().orderBy('writer').execute(),
    }))
    const live = await f.tenancy.withTenant('busy', () =>
      f.db().selectFrom('item').selectAll().orderBy('id').execute(),
    )
    // Consistent: each writer's counter equals its number of items, seqs 1..n without a gap.
    expect(restored.counters).toHaveLength(4)
    for (const c of restored.counters) {
      const mine = restored.items.filter((i) => i.writer === c.writer).map((i) => i.seq)
      expect(mine).toEqual(Array.from({ length: c.n }, (_, i) => i + 1))
    }
    // Row for row: what was restored is exactly the live rows of that moment (ids are in commit order).
    expect(restored.items).toEqual(live.slice(0, restored.items.length))
    expect(restored.items.length).toBeLessThan(live.length)
    expect(readFileSync(join(tenantFilesDir(f.root, 'busy-copy'), 'logo.png'))).toEqual(
      Buffer.from([0, 1, 2, 255]),
    )
  })

  it('refuses to overwrite without force; with force replaces the tenant and its files', async () => {
    const f = fixture()
    await populate(f, 'acme')
    const dest = join(f.root, 'acme.tar')
    await f.store.backupTenant('acme', dest)
    await f.tenancy.withTenant('acme', () =>
      f.db().insertInto('item').values({ writer: 9, seq: 9 }).execute(),
    )
    writeFileSync(join(tenantFilesDir(f.root, 'acme'), 'new.txt'), 'later')
    await expect(f.store.restoreTenant(dest)).rejects.toMatchObject({
      code: 'TENANTRY_TENANT_EXISTS',
    })
    expect(await count(f, 'acme', 'item')).toBe(2)
    const restored: string[] = []
    f.store.lifecycle.on('restored', ({ tenant, from }) => {
      restored.push(`${from}->${tenant}`)
    })
    await f.store.restoreTenant(dest, { force: true })
    expect(restored).toEqual(['acme->acme'])
    expect(await count(f, 'acme', 'item')).toBe(1)
    expect(filesUnder(tenantFilesDir(f.root, 'acme'))).toEqual(['docs/a.txt'])
  })

  it('a damaged or truncated archive restores nothing and leaves nothing behind', async () => {
    const f = fixture()
    await populate(f, 'acme')
    const dest = join(f.root, 'acme.tar')
    await f.store.backupTenant('acme', dest)
    const good = readFileSync(dest)
    const damaged = Buffer.from(good)
    damaged[2048 + 100] = damaged[2048 + 100]! ^ 0xff // inside the first entry after the manifest
    writeFileSync(join(f.root, 'damaged.tar'), damaged)
    writeFileSync(join(f.root, 'truncated.tar'), good.subarray(0, Math.floor(good.length / 2)))
    for (const name of ['damaged.tar', 'truncated.tar']) {
      await expect(f.store.restoreTenant(join(f.root, name), { as: 'copy' })).rejects.toMatchObject(
        { code: 'TENANTRY_ARCHIVE_INVALID' },
      )
      expect(await f.store.exists('copy')).toBe(false)
      expect(filesUnder(f.root).filter((p) => p.includes('copy'))).toEqual([])
    }
  })

  it('clone copies rows and files into a new tenant; export then import keeps the migration state', async () => {
    const f = fixture()
    await populate(f, 'acme')
    await f.store.cloneTenant('acme', 'acme-staging')
    expect(await count(f, 'acme-staging', 'item')).toBe(1)
    expect(
      readFileSync(join(tenantFilesDir(f.root, 'acme-staging'), 'docs', 'a.txt'), 'utf8'),
    ).toBe('acme')
    const info = await f.store.tenantInfo('acme-staging')
    expect(info).toMatchObject({ migrations: ['001_item', '002_counter'], pending: [] })
  })
})

describe('rollback and seeds', () => {
  it('rollback undoes the last migrations with down(); the tenant then reports them pending', async () => {
    const f = fixture()
    await f.store.createTenant('acme')
    expect(await f.store.rollbackTenant('acme', { steps: 1 })).toEqual({
      tenant: 'acme',
      rolledBack: ['002_counter'],
    })
    expect((await f.store.tenantInfo('acme')).pending).toEqual(['002_counter'])
    await expect(f.tenancy.withTenant('acme', () => {})).rejects.toMatchObject({
      code: 'TENANTRY_PENDING_MIGRATIONS',
    })
    expect((await f.store.migrateTenant('acme')).applied).toEqual(['002_counter'])
    await f.tenancy.withTenant('acme', () => {})
  })

  it('seeds run once per tenant, in name order, recorded; a failing seed leaves no trace', async () => {
    const f = fixture()
    await f.store.createTenant('acme')
    const ran: string[] = []
    let fail = true
    const seeds = {
      '01_items': async (t: string) => {
        ran.push(`01 ${t}`)
        await f.db().insertInto('item').values({ writer: 0, seq: 1 }).execute()
      },
      '02_flaky': async () => {
        ran.push('02')
        await f.db().insertInto('item').values({ writer: 0, seq: 2 }).execute()
        if (fail) throw new Error('flaky seed')
      },
    }
    await expect(f.store.seedTenant('acme', seeds)).rejects.toThrow('flaky seed')
    expect(await count(f, 'acme', 'item')).toBe(1)
    fail = false
    expect(await f.store.seedTenant('acme', seeds)).toEqual(['02_flaky'])
    expect(await f.store.seedTenant('acme', seeds)).toEqual([])
    expect(ran).toEqual(['01 acme', '02', '02'])
    expect(await count(f, 'acme', 'item')).toBe(2)
  })
})

describe('template databases', () => {
  it('a tenant created from the template has the same schema and stamp as a migrated one', async () => {
    const root = tempDir('tenantry-tpl-')
    const tenancy = createTenancy()
    const store = createTenantDatabases<any>({ root, migrations, tenancy, template: true }).install(
      tenancy,
    )
    try {
      await store.createTenant('a')
      await store.createTenant('b')
      expect(
        readdirSync(join(root, '.tenantry', 'templates')).filter((n) => n.endsWith('.sqlite3')),
      ).toHaveLength(1)
      for (const t of ['a', 'b']) {
        expect(await store.tenantInfo(t)).toMatchObject({
          migrations: ['001_item', '002_counter'],
          pending: [],
        })
        await tenancy.withTenant(t, () =>
          (tenancy.getResource('db') as Kysely<any>)
            .insertInto('item')
            .values({ writer: 1, seq: 1 })
            .execute(),
        )
      }
      const rows = await tenancy.withTenant('a', () =>
        sql<{ n: number }>`select count(*) as n from item`.execute(
          tenancy.getResource('db') as Kysely<any>,
        ),
      )
      expect(rows.rows[0]!.n).toBe(1) // the template itself stayed empty
    } finally {
      await store.close()
    }
  })
})

async function count(f: Fixture, tenant: string, table: string): Promise<number> {
  return await f.tenancy.withTenant(tenant, async () => {
    const r = await f
      .db()
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow()
    return Number(r.n)
  })
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('the scheduled backup job', () => {
  it('backs up every tenant, keeps the newest N, and schedules its next run once', async () => {
    const f = fixture()
    await populate(f, 'acme')
    await populate(f, 'globex')
    const dir = join(f.root, 'nightly')
    const job = defineBackupJob({
      store: f.store,
      dir,
      keep: 1,
      everyMs: 3_600_000,
      tenancy: f.tenancy,
      backend: f.jobs,
    })
    const worker = createWorker({ backend: f.jobs, jobs: [job], tenancy: f.tenancy })
    const results: unknown[] = []
    worker.on('completed', (_job, result) => results.push(result))
    try {
      for (let run = 1; run <= 2; run++) {
        await job.enqueue({}, { tenant: null })
        await waitUntil(async () => results.length === run)
      }
    } finally {
      await worker.close()
    }
    expect(results[0]).toMatchObject({ failed: [] })
    for (const t of ['acme', 'globex']) expect(readdirSync(join(dir, t))).toHaveLength(1)
    // Each run scheduled one next run, an hour out: two delayed jobs now wait.
    const next = (f.jobs as unknown as { db: import('better-sqlite3').Database }).db
      .prepare(
        "select count(*) as n from tenantry_jobs where name = 'tenantry.backup' and tenant is null and state = 'waiting'",
      )
      .get() as { n: number }
    expect(next.n).toBe(2)
    const restored = await f.store.restoreTenant(
      join(dir, 'acme', readdirSync(join(dir, 'acme'))[0]!),
      { as: 'acme-from-nightly' },
    )
    expect(restored.tenant).toBe('acme-from-nightly')
    expect(await count(f, 'acme-from-nightly', 'item')).toBe(1)
  })
})
