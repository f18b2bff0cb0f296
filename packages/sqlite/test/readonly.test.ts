// A data root on a read-only mount (issue 12): creating fails at once with a read-only code
// (not after lockTimeoutMs as "busy"), and opening a tenant, which WAL cannot do without its
// -shm file there, says read-only too (documented in docs/sqlite.md). The mount is a real read-only bind mount,
// which needs root (CI runs as root); elsewhere the tests skip and say so.
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { createTenancy, isTenantryError } from '@tenantry/context'
import { tempDir } from '@tenantry/test-utils'
import { baseMigrations } from '@tenantry/test-utils/store-contract'
import type { Kysely } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { createTenantDatabases, type TenantDatabases } from '../src/index.js'
import { filesUnder } from './helpers.js'

const root = tempDir()
const source = join(root, 'rw')
const view = join(root, 'ro')

/** Bind-mounts `source` read-only at `view`; false when this machine does not allow it. */
function mountReadOnly(): boolean {
  mkdirSync(source, { recursive: true })
  mkdirSync(view, { recursive: true })
  try {
    execFileSync('mount', ['--bind', source, view], { stdio: 'ignore' })
  } catch {
    return false
  }
  try {
    execFileSync('mount', ['-o', 'remount,bind,ro', view], { stdio: 'ignore' })
    return true
  } catch {
    execFileSync('umount', [view], { stdio: 'ignore' })
    return false
  }
}

const mounted = mountReadOnly()
afterAll(() => {
  if (mounted) execFileSync('umount', [view], { stdio: 'ignore' })
})

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (isTenantryError(e) ? e.code : String(e)),
  )

describe.runIf(mounted)(
  'a read-only data root (skipped unless this process may bind-mount)',
  () => {
    const stores: TenantDatabases<any>[] = []
    afterAll(async () => {
      for (const s of stores) await s.close()
    })

    it('fails fast with TENANTRY_READ_ONLY for create, destroy and (WAL needs -shm) reading a cleanly closed tenant', async () => {
      const writer = createTenantDatabases<any>({
        root: source,
        migrations: baseMigrations(),
        tenancy: createTenancy(),
      })
      const wt = createTenancy()
      writer.install(wt)
      await writer.createTenant('acme')
      await wt.withTenant('acme', () =>
        (wt.getResource('db') as Kysely<any>)
          .insertInto('note')
          .values({ id: 1, title: 'kept' })
          .execute(),
      )
      // A clean close leaves -wal (checkpointed, empty) and -shm for the next open.
      await writer.close()
      expect(filesUnder(view)).toEqual([
        'tenants/acme/db.sqlite3',
        'tenants/acme/db.sqlite3-shm',
        'tenants/acme/db.sqlite3-wal',
      ])
      expect(statSync(join(source, 'tenants/acme/db.sqlite3-wal')).size).toBe(0)

      const tenancy = createTenancy()
      const store = createTenantDatabases<any>({
        root: view,
        migrations: baseMigrations(),
        tenancy,
      }).install(tenancy)
      stores.push(store)
      const db = () => tenancy.getResource('db') as Kysely<any>

      expect(await codeOf(store.createTenant('fresh'))).toBe('TENANTRY_READ_ONLY')
      expect(await store.list()).toEqual(['acme'])
      // With its -wal and -shm in place, a read-only mount can read a tenant.
      expect(
        await tenancy.withTenant('acme', () => db().selectFrom('note').select('title').execute()),
      ).toEqual([{ title: 'kept' }])
      // Without a -shm (a tenant SQLite itself closed last, or copied without it), a read-only
      // mount cannot make one: opening says so with the documented code, not SQLITE_CANTOPEN.
      await store.close()
      for (const f of ['db.sqlite3-shm', 'db.sqlite3-wal']) rmSync(join(source, 'tenants/acme', f))
      const bare = createTenancy()
      stores.push(
        createTenantDatabases<any>({
          root: view,
          migrations: baseMigrations(),
          tenancy: bare,
        }).install(bare),
      )
      expect(
        await codeOf(
          bare.withTenant('acme', () =>
            (bare.getResource('db') as Kysely<any>).selectFrom('note').select('title').execute(),
          ),
        ),
      ).toBe('TENANTRY_READ_ONLY')
      const [last] = stores.slice(-1)
      expect(await codeOf(last!.destroyTenant('acme'))).toBe('TENANTRY_READ_ONLY')
      expect(filesUnder(source)).toEqual(['tenants/acme/db.sqlite3'])
    })
  },
)
