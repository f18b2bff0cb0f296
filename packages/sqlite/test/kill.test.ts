// A backup or restore killed with SIGKILL in the middle leaves nothing half-visible: no file
// that looks like a finished backup, no tenant, and the next attempt succeeds.
import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { createTenancy } from '@tenantry/context'
import { attachStorage, tenantFilesDir } from '@tenantry/storage'
import { tempDir } from '@tenantry/test-utils'
import type { Kysely } from 'kysely'
import { describe, expect, it } from 'vitest'
import { createTenantDatabases } from '../src/index.js'
import { opsMigrations } from './fixtures/ops-migrations.js'
import { filesUnder } from './helpers.js'

const repoRoot = join(import.meta.dirname, '..', '..', '..')
const fixture = join(import.meta.dirname, 'fixtures', 'ops-child.ts')

/** Runs the child until it prints `mid`, then SIGKILLs it; resolves once it is gone. */
function killMidway(root: string, mode: 'backup' | 'restore', path: string): Promise<string[]> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      ['--conditions=tenantry-source', '--import', 'tsx', fixture, root, mode, path],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    const lines: string[] = []
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line)
      if (line === 'mid') child.kill('SIGKILL')
    })
    child.on('error', fail)
    child.on('exit', (_code, signal) =>
      signal === 'SIGKILL'
        ? done(lines)
        : fail(new Error(`child ended without being killed: ${lines}`)),
    )
  })
}

function storeOn(root: string) {
  const tenancy = createTenancy()
  const store = createTenantDatabases<any>({ root, migrations: opsMigrations, tenancy }).install(
    tenancy,
  )
  attachStorage(store, { root })
  return { store, tenancy }
}

describe('kill -9 mid-operation (sqlite)', () => {
  it('mid-backup: no finished backup appears; a later backup restores whole', async () => {
    const root = tempDir('tenantry-kill-')
    const { store, tenancy } = storeOn(root)
    await store.createTenant('big')
    await tenancy.withTenant('big', () =>
      (tenancy.getResource('db') as Kysely<any>)
        .insertInto('blob')
        .values(Array.from({ length: 200 }, (_, i) => ({ id: i + 1, data: Buffer.alloc(4096, i) })))
        .execute(),
    )
    mkdirSync(tenantFilesDir(root, 'big'), { recursive: true })
    writeFileSync(join(tenantFilesDir(root, 'big'), 'f.bin'), Buffer.alloc(1000, 7))
    const dir = join(root, 'backups')
    const lines = await killMidway(root, 'backup', join(dir, 'big.tar'))
    expect(lines).toEqual(['mid'])
    expect(readdirSync(dir).filter((n) => n === 'big.tar')).toEqual([])
    expect(readdirSync(dir).every((n) => n.startsWith('big.tar.partial-'))).toBe(true)
    await expect(store.restoreTenant(join(dir, 'big.tar'), { as: 'x' })).rejects.toThrow()
    await store.backupTenant('big', join(dir, 'big.tar'))
    await store.restoreTenant(join(dir, 'big.tar'), { as: 'copy' })
    expect(await store.tenantInfo('copy')).toMatchObject({ pending: [] })
    await store.close()
  })

  it('mid-restore: the tenant never appears, the lock is free, and a new restore succeeds', async () => {
    const root = tempDir('tenantry-kill-')
    const { store, tenancy } = storeOn(root)
    await store.createTenant('big')
    await tenancy.withTenant('big', () =>
      (tenancy.getResource('db') as Kysely<any>)
        .insertInto('blob')
        .values(Array.from({ length: 50 }, (_, i) => ({ id: i + 1, data: Buffer.alloc(1024, i) })))
        .execute(),
    )
    mkdirSync(tenantFilesDir(root, 'big'), { recursive: true })
    writeFileSync(join(tenantFilesDir(root, 'big'), 'f.bin'), Buffer.alloc(1000, 7))
    const archive = join(root, 'big.tar')
    await store.backupTenant('big', archive)
    const lines = await killMidway(root, 'restore', archive)
    expect(lines).toEqual(['mid'])
    expect(await store.exists('restored')).toBe(false)
    expect(await store.list()).toEqual(['big'])
    // What the dead restorer left is never a tenant; the next restore clears it.
    await store.restoreTenant(archive, { as: 'restored' })
    expect(await store.list()).toEqual(['big', 'restored'])
    const n = await tenancy.withTenant(
      'restored',
      async () =>
        (await (tenancy.getResource('db') as Kysely<any>).selectFrom('blob').selectAll().execute())
          .length,
    )
    expect(n).toBe(50)
    expect(filesUnder(root).filter((p) => p.includes('.restoring'))).toEqual([])
    await store.close()
  })
})
