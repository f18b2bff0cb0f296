import {
  type ArchiveBackend,
  ArchiveInvalidError,
  ArchiveSchemaError,
  TenantExistsError,
  type TenantStage,
} from '@tenantry/kysely'
import type pg from 'pg'
import { holdTransaction, inSnapshot } from '../held.js'
import type { MigrationSet } from '../migrations.js'
import { quoteIdent } from '../naming.js'
import { tenantSettingSql } from './driver.js'
import { deletionOrder } from './policies.js'

/** What the row-level archive side needs from its store. */
export interface RowLevelArchiveContext {
  pool: pg.Pool
  dataSchema: string
  column: string
  migrations: MigrationSet
  /** Tables of the shared schema that are no tenant tables (the migration record). */
  exempt: readonly string[]
  /** Applies pending migrations to the shared tables (a no-op when current). */
  migrateShared(who: string): Promise<unknown>
  /** Runs `fn` in a transaction holding the tenant's advisory lock. */
  locked<R>(tenant: string, fn: (client: pg.PoolClient) => Promise<R>): Promise<R>
  /** The tenant's registry state: ready, a leftover of a failed create, or none. */
  state(client: pg.PoolClient, tenant: string): Promise<'ready' | 'leftover' | 'none'>
  /** Deletes every row of the tenant and its registry row (inside the caller's transaction). */
  forget(client: pg.PoolClient, tenant: string): Promise<void>
  /** Registers the tenant ready at the current stamp (inside the caller's transaction). */
  register(client: pg.PoolClient, tenant: string): Promise<void>
  hide(tenant: string): Promise<() => void>
}

const BATCH = 500

/**
 * The row-level store's side of backups, restores, exports and imports. A snapshot is the
 * tenant's rows of every tenant table (`WHERE tenant_id = $1`, without that column, so the
 * archive is portable) in one `REPEATABLE READ READ ONLY` transaction naming the tenant. A
 * stage is one transaction under the tenant's lock: the old rows (with `force`) are deleted,
 * the archive's inserted, counted and the tenant registered; nothing is visible before COMMIT.
 */
export function rowLevelArchiveBackend(ctx: RowLevelArchiveContext): ArchiveBackend {
  const table = (name: string) => `${quoteIdent(ctx.dataSchema)}.${quoteIdent(name)}`
  const tenantTables = async (client: pg.ClientBase) =>
    (await deletionOrder(client, ctx.dataSchema, ctx.column, ctx.exempt)).reverse()
  return {
    kind: 'postgres',
    migrationNames: async () => Object.keys(await ctx.migrations.provider.getMigrations()).sort(),
    snapshot: (tenant, fn) =>
      inSnapshot(
        ctx.pool,
        async (client) =>
          fn({
            migrations: (await ctx.migrations.status(client, ctx.dataSchema)).applied,
            tables: await tenantTables(client),
            rows: (name) => tenantRows(client, table(name), ctx.column, tenant),
          }),
        ` ${tenantSettingSql(tenant)}`,
      ),
    async stage(tenant, manifest, options) {
      await ctx.migrateShared(tenant)
      const loaded = new Map<string, number>()
      let unhide: (() => void) | undefined
      let known: string[] = []
      let there = false
      const held = await holdTransaction(
        (fn) => ctx.locked(tenant, fn),
        async (client) => {
          const state = await ctx.state(client, tenant)
          there = state === 'ready'
          if (there && !options.force) throw new TenantExistsError(tenant)
          const applied = (await ctx.migrations.status(client, ctx.dataSchema)).applied
          // One schema serves every tenant: its later migrations cannot run for this one alone.
          if (applied.join('\n') !== manifest.migrations.join('\n'))
            throw new ArchiveSchemaError(
              tenant,
              `The archive's tenant is at migrations [${manifest.migrations.join(', ')}], the shared tables at [${applied.join(', ')}]; a row-level store loads rows only at its own migrations. Import it into a store at that version (or a schema-per-tenant one), migrate it, and export again.`,
            )
          known = await tenantTables(client)
          await client.query(tenantSettingSql(tenant))
          // Every row of the old tenant goes before the new ones arrive (replaced at COMMIT).
          if (state !== 'none') await ctx.forget(client, tenant)
        },
      )
      const { client } = held
      const stage: TenantStage = {
        async rows(name, rows) {
          if (rows.length === 0) return
          if (!known.includes(name)) {
            throw new ArchiveSchemaError(
              tenant,
              `The archive has rows of table "${name}", which is no tenant table of "${ctx.dataSchema}".`,
            )
          }
          loaded.set(name, (loaded.get(name) ?? 0) + rows.length)
          await insertRows(client, table(name), ctx.column, tenant, rows)
        },
        async commit(swapFiles) {
          try {
            await held.commit(async (c) => {
              await advanceSequences(c, ctx.dataSchema, [...loaded.keys()])
              await verifyCounts(c, tenant, loaded, table, ctx.column)
              if (there) unhide = await ctx.hide(tenant)
              await ctx.register(c, tenant)
              await swapFiles()
            })
          } finally {
            unhide?.()
          }
        },
        abort: () => held.abort(),
      }
      return stage
    },
  }
}

async function* tenantRows(
  client: pg.PoolClient,
  qualified: string,
  column: string,
  tenant: string,
): AsyncGenerator<Record<string, unknown>[]> {
  const cursor = 'tenantry_export_rows'
  await client.query(
    `declare ${cursor} no scroll cursor for select * from ${qualified} where ${quoteIdent(column)} = $1`,
    [tenant],
  )
  try {
    for (;;) {
      const { rows } = await client.query<Record<string, unknown>>(`fetch ${BATCH} from ${cursor}`)
      if (rows.length === 0) break
      for (const row of rows) delete row[column]
      yield rows
    }
  } finally {
    await client.query(`close ${cursor}`)
  }
}

async function insertRows(
  client: pg.PoolClient,
  qualified: string,
  column: string,
  tenant: string,
  rows: Record<string, unknown>[],
): Promise<void> {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((c) => c !== column)
  const values: unknown[] = [tenant]
  const tuples = rows.map((row) => {
    const marks = cols.map((c) => {
      values.push(row[c] ?? null)
      return `$${values.length}`
    })
    return `($1, ${marks.join(', ')})`
  })
  await client.query(
    `insert into ${qualified} (${[column, ...cols].map(quoteIdent).join(', ')}) overriding system value values ${tuples.join(', ')}`,
    values,
  )
}

/** Shared serial and identity sequences move past the ids loaded (never back). */
async function advanceSequences(
  client: pg.PoolClient,
  schema: string,
  tables: readonly string[],
): Promise<void> {
  if (tables.length === 0) return
  const { rows } = await client.query<{ tbl: string; col: string; seq: string | null }>(
    `select c.relname as tbl, a.attname as col,
            pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) as seq
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where n.nspname = $1 and c.relname = any($2::text[])`,
    [schema, tables],
  )
  for (const r of rows) {
    if (r.seq === null) continue
    const t = `${quoteIdent(schema)}.${quoteIdent(r.tbl)}`
    await client.query(
      `select setval($1::regclass, m, true)
         from (select max(${quoteIdent(r.col)})::bigint as m from ${t}) s
        where m > coalesce(pg_sequence_last_value($1::regclass), 0)`,
      [r.seq],
    )
  }
}

/** The tenant's rows per table are what the archive held (a last check before COMMIT). */
async function verifyCounts(
  client: pg.PoolClient,
  tenant: string,
  loaded: ReadonlyMap<string, number>,
  table: (name: string) => string,
  column: string,
): Promise<void> {
  for (const [name, n] of loaded) {
    const { rows } = await client.query<{ n: string }>(
      `select count(*)::text as n from ${table(name)} where ${quoteIdent(column)} = $1`,
      [tenant],
    )
    if (Number(rows[0]?.n) !== n)
      throw new ArchiveInvalidError(
        `restoring "${tenant}": table "${name}" holds ${rows[0]?.n} rows, the archive ${n}; nothing was changed`,
      )
  }
}
