// @tenantry/sqlite: creating a tenant by copying a pre-migrated template database against
// replaying every migration, with 5 and with 50 migrations. Wall-clock (file I/O and fsync are
// part of the cost), medians of alternating rounds; the load average is printed beside it.
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTenancy } from '@tenantry/context'
import { createTenantDatabases } from '@tenantry/sqlite'
import type { Migration } from 'kysely'
import { compare, msPerRunEach, section } from './lib.ts'

const root = mkdtempSync(join(tmpdir(), 'tenantry-template-bench-'))
process.on('exit', () => rmSync(root, { recursive: true, force: true }))

/** `n` migrations: a table each, with an index and a foreign key to the one before. */
function migrations(n: number): Record<string, Migration> {
  const m: Record<string, Migration> = {}
  for (let i = 1; i <= n; i++) {
    const name = `t${i}`
    m[`${String(i).padStart(3, '0')}_${name}`] = {
      async up(db) {
        let t = db.schema
          .createTable(name)
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('title', 'text', (c) => c.notNull())
        if (i > 1) t = t.addColumn('parent_id', 'integer', (c) => c.references(`t${i - 1}.id`))
        await t.execute()
        await db.schema.createIndex(`${name}_title`).on(name).column('title').execute()
      },
    }
  }
  return m
}

const PER_ROUND = 10
let run = 0

for (const n of [5, 50]) {
  section(
    `create ${PER_ROUND} tenants, ${n} migrations: template copy vs replaying migrations (ms per ${PER_ROUND})`,
  )
  const make = (template: boolean) =>
    createTenantDatabases({
      root: join(root, `${n}-${template ? 'template' : 'migrate'}`),
      migrations: migrations(n),
      tenancy: createTenancy(),
      template,
    })
  const replay = make(false)
  const copy = make(true)
  const round = (store: typeof replay) => async () => {
    const r = ++run
    for (let i = 0; i < PER_ROUND; i++) await store.createTenant(`r${r}-t${i}`)
  }
  const [migrated, templated] = await msPerRunEach([round(replay), round(copy)], 5)
  console.log(`load average (1 min): ${loadavg()[0]!.toFixed(2)} — the machine is shared`)
  compare(
    `template create vs migrated create (${n} migrations)`,
    templated!,
    migrated!,
    `ms/${PER_ROUND}`,
    n >= 50 ? { max: 0.5 } : { max: 1.1 },
  )
  await replay.close()
  await copy.close()
}
