// A restore killed with SIGKILL inside its transaction leaves nothing half-visible, on every
// PostgreSQL store: no tenant, no registry or placement entry that counts, no staging schema,
// no row of the tenant; and the next restore of the name succeeds.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { createTenancy } from '@tenantry/context'
import { tempDir } from '@tenantry/test-utils'
import type { Kysely } from 'kysely'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { killStore } from './fixtures/kill-migrations.js'
import { appRoleUrl, DATABASE_URL, runPrefix, SKIP, schemasLike, suiteName } from './helpers.js'

const run = SKIP === undefined ? runPrefix() : 'skip_'
// The row-level store as a role that is no superuser: superusers read every tenant's rows.
const roleUrl = SKIP === undefined ? appRoleUrl(run) : ''
const url2 = process.env.DATABASE_URL_2 || DATABASE_URL || ''
const repoRoot = join(import.meta.dirname, '..', '..', '..')
const fixture = join(import.meta.dirname, 'fixtures', 'restore-child.ts')

async function dropOnSecond(prefix: string): Promise<void> {
  if (url2 === DATABASE_URL) return
  const c = new pg.Client({ connectionString: url2 })
  await c.connect()
  try {
    const { rows } = await c.query<{ n: string }>(
      'select nspname as n from pg_namespace where starts_with(nspname, $1)',
      [prefix],
    )
    for (const { n } of rows) await c.query(`drop schema if exists "${n}" cascade`)
  } finally {
    await c.end()
  }
}

async function rowsOf(tenant: string, prefix: string): Promise<number> {
  const c = new pg.Client({ connectionString: DATABASE_URL })
  await c.connect()
  try {
    const { rows } = await c.query<{ n: string }>(
      `select count(*)::text as n from "${prefix}rows"."row" where tenant_id = $1`,
      [tenant],
    )
    return Number(rows[0]?.n)
  } finally {
    await c.end()
  }
}

describe.skipIf(SKIP !== undefined)(suiteName('kill -9 mid-restore (postgres)'), () => {
  for (const kind of ['schema', 'rows', 'sharded'] as const)
    it(`${kind}: the tenant never appears and a new restore succeeds`, async () => {
      const tenancy = createTenancy()
      const prefix = `${run}${kind[0]}_`
      const registry = `${run}${kind}_registry`
      const o = { url: kind === 'rows' ? roleUrl : DATABASE_URL!, url2, prefix, registry }
      const store = killStore(kind, tenancy, o).install(tenancy)
      try {
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
              kind,
              o.url,
              o.url2,
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
        // Uncommitted work is invisible at once; the staging schema goes when the server has
        // rolled the dead session back: wait for that (bounded), not a sleep.
        const deadline = Date.now() + 30_000
        while (
          (await schemasLike(prefix)).some((s) => s.includes('~restoring')) &&
          Date.now() < deadline
        )
          await new Promise((r) => setTimeout(r, 50))
        expect(await store.exists('restored')).toBe(false)
        expect(await store.list()).toEqual(['big'])
        expect((await schemasLike(prefix)).filter((s) => s.includes('~restoring'))).toEqual([])
        if (kind === 'rows') expect(await rowsOf('restored', prefix)).toBe(0)
        await store.restoreTenant(archive, { as: 'restored' })
        const n = await tenancy.withTenant(
          'restored',
          async () =>
            (
              await (tenancy.getResource('db') as Kysely<any>)
                .selectFrom('row')
                .select('id')
                .execute()
            ).length,
        )
        expect(n).toBe(1200)
        expect(await store.list()).toEqual(['big', 'restored'])
      } finally {
        await store.close()
        await dropOnSecond(prefix)
      }
    })
})
