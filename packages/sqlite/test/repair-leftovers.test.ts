// store.repair() and the leftovers of killed restores and soft deletes: a staged database and
// file folder, the old database a forced restore set aside, a tombstone never renamed into
// place; nothing of a live operation (its tenant's lock held) is touched.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTenancy } from '@tenantry/context'
import { findPartialBackups } from '@tenantry/kysely'
import { attachStorage, tenantFilesDir } from '@tenantry/storage'
import { tempDir } from '@tenantry/test-utils'
import { describe, expect, it } from 'vitest'
import { createTenantDatabases } from '../src/index.js'
import { withFileLock } from '../src/lock.js'
import { opsMigrations } from './fixtures/ops-migrations.js'
import { filesUnder } from './helpers.js'

function storeOn(root: string) {
  const tenancy = createTenancy()
  const store = createTenantDatabases<any>({ root, migrations: opsMigrations, tenancy }).install(
    tenancy,
  )
  attachStorage(store, { root })
  return store
}

const kinds = (fs: { kind: string; path: string; fixed: boolean }[]) =>
  fs.map((f) => `${f.fixed ? 'fixed' : 'found'} ${f.kind} ${f.path}`).sort()

describe('repair(): leftovers of killed restores and soft deletes', () => {
  it('lists them, --fix removes them (or puts a set-aside database back)', async () => {
    const root = tempDir('tenantry-leftovers-')
    const store = storeOn(root)
    await store.createTenant('acme')
    await store.createTenant('gone')
    const acme = store.tenantPath('acme')
    writeFileSync(`${acme}.restoring`, 'half')
    writeFileSync(`${acme}.restoring-wal`, 'half')
    writeFileSync(`${acme}.deleting`, '{}')
    const staged = `${tenantFilesDir(root, 'acme')}.restoring-0123abcd`
    mkdirSync(join(staged, 'docs'), { recursive: true })
    writeFileSync(join(staged, 'docs', 'a.txt'), 'x')
    // A forced restore of "gone" died after setting the old database aside.
    const gone = store.tenantPath('gone')
    await store.close()
    const { renameSync } = await import('node:fs')
    renameSync(gone, `${gone}.replaced`)

    const again = storeOn(root)
    expect(await again.list()).toEqual(['acme']) // nothing above hides or shows a tenant wrongly
    expect(kinds(await again.repair())).toEqual([
      'found half-restored tenants/gone/db.sqlite3.replaced',
      'found orphan-deleting tenants/acme/db.sqlite3.deleting',
      'found orphan-restoring tenants/acme/db.sqlite3.restoring',
      'found orphan-restoring tenants/acme/files.restoring-0123abcd',
    ])
    const fixed = await again.repair({ fix: true })
    expect(fixed.every((f) => f.fixed)).toBe(true)
    expect(await again.repair()).toEqual([])
    expect(await again.list()).toEqual(['acme', 'gone'])
    expect(filesUnder(root).filter((p) => /restoring|deleting|replaced/.test(p))).toEqual([])
    await again.close()
  })

  it('leaves the leftovers of a live operation alone (its tenant lock is held)', async () => {
    const root = tempDir('tenantry-leftovers-')
    const store = storeOn(root)
    await store.createTenant('busy')
    const file = store.tenantPath('busy')
    writeFileSync(`${file}.restoring`, 'being staged')
    await withFileLock(`${file}.lock`, 'busy', 5000, async () => {
      expect(await store.repair({ fix: true })).toEqual([])
    })
    expect(existsSync(`${file}.restoring`)).toBe(true)
    expect(kinds(await store.repair())).toEqual([
      'found orphan-restoring tenants/busy/db.sqlite3.restoring',
    ])
    await store.close()
  })
})

describe('findPartialBackups', () => {
  it('lists half-written backups of dead writers, never a live one; fix deletes them', async () => {
    const dir = tempDir('tenantry-partials-')
    mkdirSync(join(dir, 'acme'))
    // A pid no process has (beyond the kernel's pid_max), and this live process's own.
    const dead = join(dir, 'acme', 'acme-1.tenantry.tar.partial-4999999-0a1b2c3d')
    const live = join(dir, 'acme', `acme-2.tenantry.tar.partial-${process.pid}-0a1b2c3d`)
    writeFileSync(dead, 'x')
    writeFileSync(live, 'y')
    writeFileSync(join(dir, 'acme', 'acme-0.tenantry.tar'), 'done')
    expect((await findPartialBackups(dir)).map((p) => [p.path, p.pid])).toEqual([[dead, 4999999]])
    await findPartialBackups(dir, { fix: true })
    expect(readdirSync(join(dir, 'acme')).sort()).toEqual([
      'acme-0.tenantry.tar',
      `acme-2.tenantry.tar.partial-${process.pid}-0a1b2c3d`,
    ])
  })
})
