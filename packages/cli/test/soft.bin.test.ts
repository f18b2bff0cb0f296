// Soft deletes and the doctor through the real executable as a child process: destroy
// --grace, list --deleted, restore <name> next to restore <file>, one-line errors, doctor
// listing and fixing leftovers and due purges.
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { tempDir } from '@tenantry/test-utils'
import { beforeAll, describe, expect, it } from 'vitest'
import { EXIT } from '../src/index.js'
import { here, tenantry } from './bin.js'

const CONFIG = `import { attachStorage } from '@tenantry/storage'
import { createTenantDatabases } from '@tenantry/sqlite'
import type { Migration } from 'kysely'

const migrations: Record<string, Migration> = {
  '001_note': {
    up: (db) => db.schema.createTable('note').addColumn('id', 'integer', (c) => c.primaryKey()).execute(),
  },
}
const store = createTenantDatabases({ root: './data', migrations })
attachStorage(store, { root: './data' })
export default { store }
`

const app = join(tempDir('tenantry-cli-soft-'), 'app')

beforeAll(() => {
  mkdirSync(app)
  writeFileSync(join(app, 'tenantry.config.ts'), CONFIG)
  symlinkSync(resolve(here, '../node_modules'), join(app, 'node_modules'), 'dir')
})

describe('tenantry soft delete and doctor (child process)', { timeout: 180_000 }, () => {
  it('destroy --grace hides, list --deleted shows the purge time, restore <name> undoes', async () => {
    for (const t of ['acme', 'globex']) expect((await tenantry(app, ['create', t])).code).toBe(0)
    const files = join(app, 'data', 'tenants', 'acme', 'files')
    mkdirSync(files, { recursive: true })
    writeFileSync(join(files, 'logo.txt'), 'acme')

    const soft = await tenantry(app, ['destroy', 'acme', '--grace', '7d'])
    expect(soft.code).toBe(0)
    expect(soft.stdout).toMatch(
      /^Soft-deleted tenant "acme": hidden now, purged at \d{4}-\d\d-\d\dT[\d:.]+Z\. Undo with "tenantry restore acme"\.\n$/,
    )
    expect((await tenantry(app, ['list'])).stdout).toBe('globex\n')
    const deleted = await tenantry(app, ['list', '--deleted'])
    expect(deleted.stdout).toMatch(/^acme {2}purge at \S+ \(in 6d 23h\)\n$/)
    const json = JSON.parse((await tenantry(app, ['list', '--deleted', '--json'])).stdout)
    expect(Date.parse(json[0].purgeAt) - Date.parse(json[0].deletedAt)).toBe(7 * 86_400_000)
    const create = await tenantry(app, ['create', 'acme'])
    expect(create.code).toBe(EXIT.TENANT_EXISTS)
    expect(create.stderr).toMatch(/^tenantry: Tenant "acme" was soft-deleted [^\n]*\n$/)
    expect(existsSync(join(files, 'logo.txt'))).toBe(true)

    const bad = await tenantry(app, ['destroy', 'globex', '--grace', 'soon'])
    expect(bad.code).toBe(EXIT.USAGE)
    expect(bad.stderr.split('\n')).toHaveLength(2)
    expect(bad.stderr).toMatch(/^tenantry: .*expected a duration such as 30m, 12h, 7d/)
    const neither = await tenantry(app, ['restore', 'nobody'])
    expect(neither.code).toBe(EXIT.USAGE)
    expect(neither.stderr).toMatch(
      /^tenantry: No backup file at \S+ and no soft-deleted tenant "nobody"/,
    )

    // A file named like the tenant makes the name ambiguous: the CLI asks which one.
    writeFileSync(join(app, 'acme'), 'not a backup')
    const both = await tenantry(app, ['restore', 'acme'])
    expect(both.code).toBe(EXIT.USAGE)
    expect(both.stderr).toMatch(/pass --deleted to undo the delete, or \.\/acme for the file/)
    const undone = await tenantry(app, ['restore', '--deleted', 'acme'])
    expect(undone).toMatchObject({ code: 0, stdout: 'Restored soft-deleted tenant "acme".\n' })
    expect((await tenantry(app, ['list'])).stdout).toBe('acme\nglobex\n')
    const again = await tenantry(app, ['restore', '--deleted', 'acme'])
    expect(again.code).toBe(EXIT.FAILURE)
    expect(again.stderr).toMatch(/^tenantry: Tenant "acme" is not soft-deleted[^\n]*\n$/)

    // restore <file> still restores a backup.
    expect((await tenantry(app, ['backup', 'globex', '--to', 'g.tar'])).code).toBe(0)
    const fromFile = await tenantry(app, ['restore', 'g.tar', '--as', 'globex2'])
    expect(fromFile.code).toBe(0)
    expect(fromFile.stdout).toMatch(/^Restored tenant "globex2" from /)

    // Soft-deleted, then destroyed for good without waiting.
    await tenantry(app, ['destroy', 'globex2', '--grace', '1h'])
    const purged = await tenantry(app, ['destroy', 'globex2', '--yes'])
    expect(purged.code).toBe(0)
    expect(existsSync(join(app, 'data', 'tenants', 'globex2'))).toBe(false)
    expect((await tenantry(app, ['list', '--deleted', '--json'])).stdout).toBe('[]\n')
  })

  it('doctor lists leftovers, due purges and dead partial backups; --fix clears them', async () => {
    await tenantry(app, ['create', 'old'])
    await tenantry(app, ['destroy', 'old', '--grace', '1ms'])
    const db = join(app, 'data', 'tenants', 'acme', 'db.sqlite3')
    writeFileSync(`${db}.restoring`, 'half')
    mkdirSync(join(app, 'backups', 'acme'), { recursive: true })
    const partial = join(app, 'backups', 'acme', 'acme-1.tenantry.tar.partial-4999999-0a1b2c3d')
    writeFileSync(partial, 'x')

    const found = await tenantry(app, ['doctor', '--backups', 'backups'])
    expect(found.code).toBe(EXIT.FAILURE)
    const lines = found.stdout.split('\n').filter(Boolean)
    expect(lines.slice(0, -1).sort()).toEqual([
      expect.stringMatching(/^found {2}deleted-expired {2}old: soft-deleted, its grace ended at /),
      'found  orphan-restoring  tenants/acme/db.sqlite3.restoring: a database a killed restore was staging; it was never visible',
      'found  partial-backup  backups/acme/acme-1.tenantry.tar.partial-4999999-0a1b2c3d: a backup whose writer (pid 4999999) died before it was complete',
    ])
    expect(lines.at(-1)).toBe(
      '3 finding(s): 0 fixed, 3 left (run with --fix to repair what is safe).',
    )
    const fixed = await tenantry(app, ['doctor', '--backups', 'backups', '--fix'])
    expect(fixed.code).toBe(0)
    expect(fixed.stdout.split('\n').filter(Boolean).at(-1)).toBe('3 finding(s): 3 fixed, 0 left.')
    expect(existsSync(`${db}.restoring`)).toBe(false)
    expect(readdirSync(join(app, 'backups', 'acme'))).toEqual([])
    expect(existsSync(join(app, 'data', 'tenants', 'old'))).toBe(false)
    const clean = await tenantry(app, ['doctor', '--backups', 'backups'])
    expect(clean).toMatchObject({ code: 0, stdout: 'No problems found.\n' })
  })
})
