import { createHash } from 'node:crypto'
import { UnknownTenantError } from '@tenantry/context'
import {
  type ArchiveBackend,
  ArchiveSchemaError,
  ensureSeedsTable,
  migrationStamp,
  SEEDS_TABLE,
  TenantExistsError,
  type TenantSnapshot,
  type TenantStage,
} from '@tenantry/kysely'
import type pg from 'pg'
import { holdTransaction, inSnapshot } from './held.js'
import { searchPath } from './lock.js'
import { kyselyOnClient, type MigrationSet } from './migrations.js'
import { quoteIdent } from './naming.js'
import type { Registry } from './registry.js'

/** What the tenant operations need from the PostgreSQL store. */
export interface PostgresOperationsStore {
  pool: pg.Pool
  migrations: MigrationSet
  registry: Registry
  /** The tenant's schema (validates the name). */
  schemaOf(tenant: string): string
  /** Runs `fn` in a transaction holding the tenant's advisory lock (rolled back if it throws). */
  locked<R>(tenant: string, fn: (client: pg.PoolClient) => Promise<R>, what: string): Promise<R>
  /** Hides `tenant` in this process and releases its handles; returns the unhide function. */
  hide(tenant: string): Promise<() => void>
}

/** The archive operations' view of the store, over its migration set and registry. */
function contextOf(s: PostgresOperationsStore): PostgresArchiveContext {
  return {
    pool: s.pool,
    schemaOf: (t) => s.schemaOf(t),
    locked: (t, fn) => s.locked(t, fn, 'restoring'),
    migrate: async (client, schema, tenant, names) => {
      const set = names === undefined ? s.migrations : await s.migrations.subset(names)
      await set.migrate(client, schema, tenant)
    },
    migrationNames: async () => Object.keys(await s.migrations.provider.getMigrations()).sort(),
    applied: async (client, schema) => (await s.migrations.status(client, schema)).applied,
    stamp: async () => await s.migrations.version(),
    exists: async (client, t) => (await s.registry.row(s.schemaOf(t), client))?.ready === true,
    remove: (client, t) => s.registry.remove(client, s.schemaOf(t)),
    register: async (client, t, stamp) => {
      await s.registry.insert(client, s.schemaOf(t), t)
      await s.registry.markReady(client, s.schemaOf(t), stamp)
    },
    hide: (t) => s.hide(t),
    migrationTables: ['kysely_migration', 'kysely_migration_lock'],
  }
}

interface PostgresArchiveContext {
  pool: pg.Pool
  schemaOf(tenant: string): string
  locked<R>(tenant: string, fn: (client: pg.PoolClient) => Promise<R>): Promise<R>
  /** Applies `names` (default: every migration) to `schema` inside the caller's transaction. */
  migrate(
    client: pg.PoolClient,
    schema: string,
    tenant: string,
    names?: readonly string[],
  ): Promise<void>
  migrationNames(): Promise<string[]>
  applied(client: pg.PoolClient, schema: string): Promise<string[]>
  stamp(): Promise<number>
  exists(client: pg.PoolClient, tenant: string): Promise<boolean>
  remove(client: pg.PoolClient, tenant: string): Promise<void>
  register(client: pg.PoolClient, tenant: string, stamp: number): Promise<void>
  hide(tenant: string): Promise<() => void>
  migrationTables: readonly string[]
}

const BATCH = 500

/**
 * The PostgreSQL side of backups, restores, exports and imports. A snapshot is one
 * `REPEATABLE READ READ ONLY` transaction (rows read through a cursor, 500 at a time); a stage
 * is one transaction holding the tenant's advisory lock, in which the schema is built, loaded,
 * migrated, verified and registered: nothing is visible before COMMIT, and a process killed
 * midway is rolled back by the server.
 */
/**
 * The PostgreSQL store's operations beyond the lifecycle, kept out of the store class: the
 * archive side (below) and rollbacks.
 */
export function postgresOperations(store: PostgresOperationsStore): {
  archive(): ArchiveBackend
  rollback(tenant: string, steps: number): Promise<string[]>
} {
  return {
    archive: () => postgresArchiveBackend(store),
    rollback: (tenant, steps) => {
      const schema = store.schemaOf(tenant)
      return store.locked(
        tenant,
        async (client) => {
          if ((await store.registry.row(schema, client))?.ready !== true)
            throw new UnknownTenantError(tenant)
          await searchPath(client, schema)
          const undone = await store.migrations.rollback(client, schema, steps, tenant)
          // The stamp of what is applied now: opening the tenant reports the rest as pending.
          const { applied } = await store.migrations.status(client, schema)
          await store.registry.stamp(client, schema, migrationStamp(applied))
          return undone
        },
        'rolling back',
      )
    },
  }
}

function postgresArchiveBackend(store: PostgresOperationsStore): ArchiveBackend {
  const ctx = contextOf(store)
  return {
    kind: 'postgres',
    migrationNames: () => ctx.migrationNames(),
    snapshot: (tenant, fn) =>
      inSnapshot(ctx.pool, async (client) =>
        fn(await snapshotOf(ctx, client, ctx.schemaOf(tenant))),
      ),
    async stage(tenant, manifest, options) {
      const schema = ctx.schemaOf(tenant)
      const held = await holdTransaction(
        (fn) => ctx.locked(tenant, fn),
        async (c) => {
          if ((await ctx.exists(c, tenant)) && !options.force) throw new TenantExistsError(tenant)
        },
      )
      const { client } = held
      let unhide: (() => void) | undefined
      const columns = new Map<string, Set<string>>()
      // Build the tenant beside an old one of the same name: under a temporary schema name,
      // renamed at commit (the old one is dropped in the same transaction).
      const temp = `${schema.slice(0, 40)}~restoring~${createHash('sha256').update(schema).digest('hex').slice(0, 12)}`
      try {
        await client.query(`drop schema if exists ${quoteIdent(temp)} cascade`)
        await client.query(`create schema ${quoteIdent(temp)}`)
        await client.query(`set local search_path to ${quoteIdent(temp)}, public`)
        await ctx.migrate(client, temp, tenant, manifest.migrations)
        await client.query('set local session_replication_role = replica').catch(() => {}) // FKs off while loading, when allowed
      } catch (error) {
        await held.abort()
        throw error
      }
      const stage: TenantStage = {
        async rows(table, rows) {
          const cols = Object.keys(rows[0] ?? {})
          if (table === SEEDS_TABLE && !columns.has(table))
            await ensureSeedsTable(kyselyOnClient(client, temp)) // made by seedTenant, not a migration
          columns.set(table, new Set([...(columns.get(table) ?? []), ...cols]))
          const values: unknown[] = []
          const tuples = rows.map((row) => {
            const marks = cols.map((c) => {
              values.push(row[c])
              return `$${values.length}`
            })
            return `(${marks.join(', ')})`
          })
          await client.query(
            `insert into ${quoteIdent(temp)}.${quoteIdent(table)} (${cols.map(quoteIdent).join(', ')}) overriding system value values ${tuples.join(', ')}`,
            values,
          )
        },
        async commit(swapFiles) {
          try {
            await held.commit(async (c) => {
              await c.query('set local session_replication_role = origin').catch(() => {})
              await resetSequences(c, temp)
              await ctx.migrate(c, temp, tenant)
              const applied = await ctx.applied(c, temp)
              const all = await ctx.migrationNames()
              if (applied.join('\n') !== all.join('\n'))
                throw new ArchiveSchemaError(
                  tenant,
                  `The restored schema of "${tenant}" has migrations ${applied.join(', ')}, this app's are ${all.join(', ')}; nothing was changed.`,
                )
              // The rest happens in the same transaction, before COMMIT.
              if (await ctx.exists(c, tenant)) unhide = await ctx.hide(tenant)
              await ctx.remove(c, tenant)
              await c.query(`alter schema ${quoteIdent(temp)} rename to ${quoteIdent(schema)}`)
              await ctx.register(c, tenant, await ctx.stamp())
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

async function snapshotOf(
  ctx: PostgresArchiveContext,
  client: pg.PoolClient,
  schema: string,
): Promise<TenantSnapshot> {
  const { rows: tables } = await client.query<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and c.relkind in ('r', 'p') order by c.relname collate "C"`,
    [schema],
  )
  const names = tables.map((t) => t.name).filter((n) => !ctx.migrationTables.includes(n))
  const { rows: fks } = await client.query<{ child: string; parent: string }>(
    `select c.relname as child, p.relname as parent from pg_constraint k
     join pg_class c on c.oid = k.conrelid join pg_class p on p.oid = k.confrelid
     join pg_namespace n on n.oid = c.relnamespace where k.contype = 'f' and n.nspname = $1`,
    [schema],
  )
  const parents = new Map<string, string[]>()
  for (const fk of fks) parents.set(fk.child, [...(parents.get(fk.child) ?? []), fk.parent])
  return {
    migrations: await ctx.applied(client, schema),
    tables: parentsFirst(names, parents),
    async *rows(table) {
      const cursor = quoteIdent(`tenantry_export_${table}`.slice(0, 60))
      await client.query(
        `declare ${cursor} no scroll cursor for select * from ${quoteIdent(schema)}.${quoteIdent(table)}`,
      )
      try {
        for (;;) {
          const { rows } = await client.query(`fetch ${BATCH} from ${cursor}`)
          if (rows.length === 0) break
          yield rows
        }
      } finally {
        await client.query(`close ${cursor}`)
      }
    },
  }
}

/** Serial and identity sequences continue after the highest loaded id. */
async function resetSequences(client: pg.PoolClient, schema: string): Promise<void> {
  const { rows } = await client.query<{ tbl: string; col: string; seq: string }>(
    `select c.relname as tbl, a.attname as col, pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) as seq
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
     where n.nspname = $1 and c.relkind = 'r'`,
    [schema],
  )
  for (const r of rows) {
    if (r.seq === null) continue
    const t = `${quoteIdent(schema)}.${quoteIdent(r.tbl)}`
    await client.query(
      `select setval($1::regclass, coalesce((select max(${quoteIdent(r.col)}) from ${t}), 0) + 1, false)`,
      [r.seq],
    )
  }
}

/** Tables ordered so that every table comes after the ones it references (cycles: as found). */
function parentsFirst(names: readonly string[], parents: Map<string, string[]>): string[] {
  const out: string[] = []
  const seen = new Set<string>()
  const visit = (n: string) => {
    if (seen.has(n)) return
    seen.add(n)
    for (const p of parents.get(n) ?? []) if (p !== n && names.includes(p)) visit(p)
    out.push(n)
  }
  for (const n of names) visit(n)
  return out
}
