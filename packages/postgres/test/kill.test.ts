// A restore into PostgreSQL killed with SIGKILL inside its transaction leaves nothing
// half-visible: no tenant, no registry row, no staging schema, and the next restore succeeds.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { createTenancy } from '@tenantry/context'
import { tempDir } from '@tenantry/test-utils'
import type { Kysely } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { createPostgresTenantDatabases } from '../src/index.js'
import { killMigrations } from './fixtures/kill-migrations.js'
import { DATABASE_URL, runPrefix, SKIP, schemasLike, suiteName } from './helpers.js'

const run = SKIP === undefined ? runPrefix() : 'skip_'
const repoRoot = join(import.meta.dirname, '..', '..', '..')
const fixture = join(import.meta.dirname, 'fixtures', 'restore-child.ts')

describe.skipIf(SKIP !== undefined)(suiteName('kill -9 mid-restore (postgres)'), () => {
  const tenancy = createTenancy()
  const prefix = `${run}k_`
  const registry = `${run}registry`
  const store = createPostgresTenantDatabases<any>({
    connectionString: DATABASE_URL,
    migrations: killMigrations,
    schemaPrefix: prefix,
    registrySchema: registry,
    tenancy,
  }).install(tenancy)
  afterAll(() => store.close())

  it('the tenant never appears and a new restore succeeds', async () => {
    await store.createTenant('big')
    await tenancy.withTenant('big', () =>
      (tenancy.getResource('db') as Kysely<any>)
        .insertInto('row')
        .values(Array.from({ length: 1200 }, (_, i) => ({ id: i + 1, data: `row ${i}` })))
        .execute(),
    )
    const archive = join(tempDir('tenantry-pg-kill-'), 'big.tar')
    await store.backupTenant('big', archive)
    const lines = await new Promise<string[]>((done, fail) => {
      const child = spawn(
        process.execPath,
        [
          '--conditions=tenantry-source',
          '--import',
          'tsx',
          fixture,
          DATABASE_URL!,
          prefix,
          registry,
          archive,
        ],
        { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
      )
      const seen: string[] = []
      createInterface({ input: child.stdout! }).on('line', (line) => {
        seen.push(line)
        if (line === 'mid') child.kill('SIGKILL')
      })
      child.on('error', fail)
      child.on('exit', (_c, signal) =>
        signal === 'SIGKILL' ? done(seen) : fail(new Error(`not killed: ${seen}`)),
      )
    })
    expect(lines).toEqual(['mid'])
    // The server rolls the dead session's transaction back: wait for it (bounded), not a sleep.
    const deadline = Date.now() + 30_000
    while ((await schemasLike(`${prefix}restored`)).length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50))
    expect(await store.exists('restored')).toBe(false)
    expect(await store.list()).toEqual(['big'])
    expect((await schemasLike(prefix)).filter((s) => s.includes('~restoring'))).toEqual([])
    await store.restoreTenant(archive, { as: 'restored' })
    const n = await tenancy.withTenant(
      'restored',
      async () =>
        (await (tenancy.getResource('db') as Kysely<any>).selectFrom('row').selectAll().execute())
          .length,
    )
    expect(n).toBe(1200)
  })
})
