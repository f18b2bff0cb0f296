export type { MigrationsOption } from '@tenantry/kysely'

import { type MigrationsOption, MigrationVersion, migrateToLatest } from '@tenantry/kysely'
import {
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type DatabaseMetadataOptions,
  type Kysely,
  Kysely as KyselyClass,
  Migrator,
  PostgresAdapter,
  PostgresDialect,
  type PostgresPool,
  type SchemaMetadata,
  sql,
  type TableMetadata,
} from 'kysely'
import type pg from 'pg'

/** Where one migration set keeps its bookkeeping tables. */
export interface MigrationTables {
  /** Kysely's `migrationTableName`. */
  table?: string
  /** Kysely's `migrationLockTableName`. */
  lockTable?: string
}

/**
 * Kysely's PostgresAdapter takes one session-level advisory lock with a fixed id for every
 * migration in the database, which would serialise all tenants (and the app's own migrator).
 * The store already holds the tenant's transaction-level advisory lock, so this one is a no-op.
 */
class TenantLockedAdapter extends PostgresAdapter {
  override async acquireMigrationLock(): Promise<void> {}
  override async releaseMigrationLock(): Promise<void> {}
}

/**
 * The Migrator checks for its tables by introspecting every table of every schema (kysely
 * #1313, #1707): with thousands of tenant schemas that costs seconds per tenant. This one sees
 * only the schema being migrated.
 */
class SchemaIntrospector implements DatabaseIntrospector {
  constructor(
    private readonly db: Kysely<any>,
    private readonly schema: string,
  ) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<{
      nspname: string
    }>`select nspname from pg_catalog.pg_namespace where nspname = ${this.schema}`.execute(this.db)
    return rows.map((r) => ({ name: r.nspname }))
  }

  async getTables(_options?: DatabaseMetadataOptions): Promise<TableMetadata[]> {
    const { rows } = await sql<{
      table: string
      kind: string
      column: string
      type: string
      type_schema: string
      not_null: boolean
      has_default: boolean
    }>`select c.relname as table, c.relkind as kind, a.attname as column, t.typname as type,
        tn.nspname as type_schema, a.attnotnull as not_null, a.atthasdef as has_default
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      join pg_catalog.pg_type t on t.oid = a.atttypid
      join pg_catalog.pg_namespace tn on tn.oid = t.typnamespace
      where n.nspname = ${this.schema} and c.relkind in ('r', 'v', 'p')
      order by c.relname, a.attnum`.execute(this.db)
    const tables = new Map<
      string,
      TableMetadata & { columns: TableMetadata['columns'][number][] }
    >()
    for (const r of rows) {
      let t = tables.get(r.table)
      if (t === undefined) {
        t = { name: r.table, schema: this.schema, isView: r.kind === 'v', columns: [] }
        tables.set(r.table, t)
      }
      t.columns.push({
        name: r.column,
        dataType: r.type,
        dataTypeSchema: r.type_schema,
        isNullable: !r.not_null,
        hasDefaultValue: r.has_default,
        isAutoIncrementing: false,
      })
    }
    return [...tables.values()]
  }

  async getMetadata(options?: DatabaseMetadataOptions): Promise<DatabaseMetadata> {
    return { tables: await this.getTables(options) }
  }
}

class SchemaDialect extends PostgresDialect {
  constructor(
    pool: PostgresPool,
    private readonly schema: string,
  ) {
    super({ pool })
  }
  override createAdapter(): PostgresAdapter {
    return new TenantLockedAdapter()
  }
  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SchemaIntrospector(db, this.schema)
  }
}

/**
 * A Kysely bound to one checked-out client (already inside the caller's transaction) and to
 * `schema`: what the Migrator runs on, so schema creation, every migration and the registry
 * update commit or roll back together.
 */
export function kyselyOnClient(client: pg.PoolClient, schema: string): Kysely<any> {
  const borrowed = {
    query: client.query.bind(client),
    release() {}, // the caller owns the client
  }
  const pool: PostgresPool = {
    connect: async () => borrowed as never,
    end: async () => {},
  }
  return new KyselyClass<any>({ dialect: new SchemaDialect(pool, schema) }).withSchema(schema)
}

/**
 * One migration set and its version stamp: a 31-bit hash of the sorted migration names, kept in
 * the registry row. A tenant whose stamp matches is current without reading its migration
 * table; any other value sends the opener to Kysely's `Migrator` for the details.
 */
export class MigrationSet extends MigrationVersion {
  constructor(
    migrations: MigrationsOption,
    private readonly tables: MigrationTables = {},
  ) {
    super(migrations)
  }

  private migrator(client: pg.PoolClient, schema: string): Migrator {
    return new Migrator({
      db: kyselyOnClient(client, schema),
      provider: this.provider,
      // Both are needed: withSchema places the migrations' tables, migrationTableSchema the
      // Migrator's own (kysely #648).
      migrationTableSchema: schema,
      migrationTableName: this.tables.table,
      migrationLockTableName: this.tables.lockTable,
      // The caller's transaction wraps the whole run (schema, migrations, registry row).
      disableTransactions: true,
    })
  }

  /** Names of applied and pending migrations in `schema`. */
  async status(
    client: pg.PoolClient,
    schema: string,
  ): Promise<{ applied: string[]; pending: string[] }> {
    const infos = await this.migrator(client, schema).getMigrations()
    return {
      applied: infos.filter((m) => m.executedAt !== undefined).map((m) => m.name),
      pending: infos.filter((m) => m.executedAt === undefined).map((m) => m.name),
    }
  }

  /** Applies every pending migration on `client` (inside the caller's transaction). */
  async migrate(client: pg.PoolClient, schema: string, who: string): Promise<string[]> {
    return migrateToLatest(this.migrator(client, schema), who)
  }
}
