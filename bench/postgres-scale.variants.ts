// The stores the scale benchmark measures side by side, each with its 5-table schema and the
// one-migration step added at every level.
import { createTenancy } from '@tenantry/context'
import type { TenantStore } from '@tenantry/kysely'
import {
  createPostgresRowLevelTenantDatabases,
  createPostgresTenantDatabases,
} from '@tenantry/postgres'
import type { Kysely, Migration } from 'kysely'

/** One store under test. */
export interface ScaleVariant {
  label: string
  /** The tenant schema: 5 tables, 5 indexes. */
  base: Record<string, Migration>
  /** The migration added at level `n`. */
  next(n: number): Migration
  make(options: {
    url: string
    migrations: Record<string, Migration>
    poolMax: number
  }): TenantStore
  note?: string
}

const TABLES = ['page', 'revision', 'attachment', 'comment', 'tag']

const schemaBase: Record<string, Migration> = {
  '001_tables': {
    async up(db: Kysely<any>) {
      for (const table of TABLES) {
        await db.schema
          .createTable(table)
          .addColumn('id', 'bigserial', (c) => c.primaryKey())
          .addColumn('slug', 'text', (c) => c.notNull())
          .addColumn('body', 'text')
          .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo('now()'))
          .execute()
        await db.schema.createIndex(`${table}_slug`).on(table).column('slug').execute()
      }
    },
  },
}

const schemaPerTenant: ScaleVariant = {
  label: 'schema per tenant (createPostgresTenantDatabases)',
  base: schemaBase,
  next: (n) => ({
    async up(db: Kysely<any>) {
      await db.schema.alterTable('page').addColumn(`extra_${n}`, 'text').execute()
    },
  }),
  make: ({ url, migrations, poolMax }) =>
    createPostgresTenantDatabases({
      connectionString: url,
      migrations,
      poolMax,
      tenancy: createTenancy(),
      existsCacheMs: 0,
    }),
}

const rowLevel: ScaleVariant = {
  label: 'row-level (createPostgresRowLevelTenantDatabases: shared tables, RLS)',
  base: schemaBase, // the same migrations, rewritten to carry tenant_id
  next: schemaPerTenant.next,
  make: ({ url, migrations, poolMax }) =>
    createPostgresRowLevelTenantDatabases({
      connectionString: url,
      migrations,
      poolMax,
      tenancy: createTenancy(),
      existsCacheMs: 0,
    }),
  note: 'one migration of the shared tables serves every tenant; as superuser, so policies are not evaluated (they cost nothing here: no rows are read)',
}

/** Every variant, in the order they run. */
export const variants: ScaleVariant[] = [schemaPerTenant, rowLevel]
