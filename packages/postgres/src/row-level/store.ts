import { UnknownTenantError } from '@tenantry/context'
import {
  type ArchiveBackend,
  type CreateTenantOptions,
  type DestroyTenantOptions,
  type MigrateAllOptions,
  PendingMigrationsError,
  TenantBusyError,
  TenantDeletedError,
  TenantExistsError,
  type TenantInfo,
  type TenantMigrationResult,
} from '@tenantry/kysely'
import {
  type Driver,
  type Kysely,
  type KyselyConfig,
  PostgresDialect,
  type RawBuilder,
  sql,
} from 'kysely'
import type pg from 'pg'
import { faultError } from '../faults.js'
import { searchPath } from '../lock.js'
import { MigrationSet } from '../migrations.js'
import { advisoryKey, checkSchema, quoteIdent } from '../naming.js'
import { RegisteredStore } from '../registered-store.js'
import { Registry, type RegistryRow } from '../registry.js'
import { rowLevelArchiveBackend } from './archive.js'
import { tenantKysely, tenantSettingSql } from './driver.js'
import { TenantColumnPlugin } from './plugin.js'
import { applyTenantPolicies, deletionOrder, ensureTenantSeedsTable } from './policies.js'
import type { PostgresRowLevelOptions, PostgresRowLevelTenantDatabases } from './types.js'

const RECORD = 'kysely_migration'

/**
 * Creates the row-level store: every tenant's rows in one set of shared tables with a
 * `tenant_id` column, guarded by row-level security policies; each transaction names its
 * tenant with `SET LOCAL app.tenant` (PgBouncer-safe). The same migrations as the
 * schema-per-tenant store run once for all tenants, rewritten to carry the tenant column.
 */
export function createPostgresRowLevelTenantDatabases<DB, CentralDB = unknown>(
  options: PostgresRowLevelOptions,
): PostgresRowLevelTenantDatabases<DB, CentralDB> {
  return new RowLevelStore<DB, CentralDB>(options)
}

class RowLevelStore<DB, CentralDB>
  extends RegisteredStore<DB, CentralDB>
  implements PostgresRowLevelTenantDatabases<DB, CentralDB>
{
  readonly dataSchema: string
  private readonly column: string
  protected readonly registry: Registry
  private readonly migrations: MigrationSet
  private readonly plugin: TenantColumnPlugin
  private readonly shared: Driver
  private driverReady: Promise<void> | undefined
  private readonly log: KyselyConfig['log']

  constructor(options: PostgresRowLevelOptions) {
    const registrySchema = checkSchema(options.registrySchema ?? 'tenantry', 'registrySchema')
    const centralSchema = checkSchema(options.centralSchema ?? 'public', 'centralSchema')
    super(options, { registrySchema, centralSchema })
    this.dataSchema = checkSchema(options.dataSchema ?? 'tenant_rows', 'dataSchema')
    this.column = checkSchema(options.tenantColumn ?? 'tenant_id', 'tenantColumn')
    // Registry keys `rows:<schema>:<tenant>`: never a schema name, so no store confuses them.
    this.registry = new Registry(
      this.pool,
      registrySchema,
      `rows:${this.dataSchema}:`,
      this.locks,
      this.lockTimeoutMs,
    )
    this.migrations = new MigrationSet(options.migrations)
    this.plugin = new TenantColumnPlugin(this.column)
    this.log = options.log
    this.shared = new PostgresDialect({ pool: this.borrowedPool() }).createDriver()
  }

  protected registryKey(tenant: string): string {
    return `rows:${this.dataSchema}:${this.tenancy.validateName(tenant)}`
  }

  table(name: string): RawBuilder<unknown> {
    this.tenancy.requireTenant()
    return sql.id(this.dataSchema, name)
  }

  // --- the shared schema ---------------------------------------------------------------------

  /**
   * Applies pending migrations to the shared tables (once for every tenant, under the schema's
   * lock), adds the policies to new tables and stamps every tenant current.
   */
  private async migrateShared(who: string): Promise<string[]> {
    const expected = await this.migrations.version()
    await this.registry.ensure() // its own connection: before this one is held
    return await this.locks.run(
      advisoryKey(this.registry.schema, `rows:${this.dataSchema}`),
      async (client) => {
        await client.query(`create schema if not exists ${quoteIdent(this.dataSchema)}`)
        await searchPath(client, this.dataSchema)
        const applied = await this.migrations.migrate(client, this.dataSchema, who, {
          plugins: [this.plugin],
        })
        try {
          await ensureTenantSeedsTable(client, this.dataSchema, this.column)
          await applyTenantPolicies(client, this.dataSchema, this.column, [RECORD])
        } catch (error) {
          throw faultError(error, 'securing the shared tables of', who) ?? error
        }
        await client.query(
          `update ${this.registry.table} set migration_stamp = $2 where prefix = $1 and migration_stamp is distinct from $2`,
          [`rows:${this.dataSchema}:`, expected],
        )
        return applied
      },
      () => new TenantBusyError(`(${this.dataSchema})`, this.lockTimeoutMs),
    )
  }

  private async pending(): Promise<string[]> {
    const client = await this.pool.connect()
    try {
      return (await this.migrations.status(client, this.dataSchema)).pending
    } finally {
      client.release()
    }
  }

  // --- lifecycle -----------------------------------------------------------------------------

  async createTenant(tenant: string, options: CreateTenantOptions = {}): Promise<void> {
    const key = this.registryKey(tenant)
    const exists = (row: RegistryRow | undefined) => {
      if (row?.purge_at) throw new TenantDeletedError(tenant, row.purge_at) // name held
      if (row?.ready !== true) return false
      if (options.ifNotExists) return true
      throw new TenantExistsError(tenant)
    }
    if (exists(await this.row(tenant))) return
    // The shared tables first (a no-op once current): the tenant appears only when they are.
    if ((await this.pending()).length > 0) await this.migrateShared(tenant)
    const stamp = await this.migrations.version()
    const made = await this.locked(
      tenant,
      async (client) => {
        const row = await this.row(tenant, client)
        if (exists(row)) return false
        await this.creating(tenant)
        if (row !== undefined) await this.forget(client, tenant)
        await this.registry.insert(client, key, tenant)
        await this.registry.markReady(client, key, stamp)
        return true
      },
      'creating',
    )
    if (made) await this.lifecycle.emit('created', { tenant })
  }

  async destroyTenant(tenant: string, options?: DestroyTenantOptions): Promise<void> {
    if (options?.graceMs !== undefined) return await this.softDestroy(tenant, options.graceMs)
    if ((await this.row(tenant))?.ready !== true) throw new UnknownTenantError(tenant)
    await this.hiding(tenant, () =>
      this.locked(
        tenant,
        async (client) => {
          if ((await this.row(tenant, client))?.ready !== true) throw new UnknownTenantError(tenant)
          await this.forget(client, tenant)
        },
        'destroying',
      ),
    )
    await this.destroyed(tenant) // files, jobs, cache entries of the tenant (the lifecycle)
  }

  /** Deletes every row of the tenant (children first) and its registry row, in one transaction. */
  private async forget(client: pg.PoolClient, tenant: string): Promise<void> {
    await client.query(tenantSettingSql(tenant))
    if ((await client.query('select to_regnamespace($1) as n', [this.dataSchema])).rows[0]?.n)
      for (const table of await deletionOrder(client, this.dataSchema, this.column, [RECORD]))
        await client.query(
          `delete from ${quoteIdent(this.dataSchema)}.${quoteIdent(table)} where ${quoteIdent(this.column)} = $1`,
          [tenant],
        )
    await client.query(`delete from ${this.registry.table} where schema_name = $1`, [
      this.registryKey(tenant),
    ])
  }

  protected override archiveBackend(): ArchiveBackend {
    return rowLevelArchiveBackend({
      pool: this.pool,
      dataSchema: this.dataSchema,
      column: this.column,
      migrations: this.migrations,
      exempt: [RECORD],
      migrateShared: async (who) => {
        if ((await this.pending()).length > 0) await this.migrateShared(who)
      },
      locked: (t, fn) => this.locked(t, fn, 'restoring'),
      state: async (client, t) => {
        const row = await this.row(t, client)
        return row === undefined ? 'none' : row.ready ? 'ready' : 'leftover'
      },
      forget: (client, t) => this.forget(client, t),
      register: async (client, t) => {
        await this.registry.insert(client, this.registryKey(t), t)
        await this.registry.markReady(client, this.registryKey(t), await this.migrations.version())
      },
      hide: (t) => this.hide(t),
    })
  }

  // --- migrations ----------------------------------------------------------------------------

  async migrateTenant(tenant: string): Promise<TenantMigrationResult> {
    const row = await this.row(tenant)
    if (row?.ready !== true) throw new UnknownTenantError(tenant)
    if (row.migration_stamp === (await this.migrations.version())) return { tenant, applied: [] }
    return await this.migrated({ tenant, applied: await this.migrateShared(tenant) })
  }

  /** One migration of the shared tables serves every tenant: the per-tenant cost is a row update. */
  override async migrateAllTenants(
    options: MigrateAllOptions = {},
  ): Promise<TenantMigrationResult[]> {
    const tenants = await this.list()
    let outcome: { applied: string[]; error?: unknown }
    try {
      outcome = { applied: tenants.length === 0 ? [] : await this.migrateShared('(all tenants)') }
    } catch (error) {
      outcome = { applied: [], error }
    }
    return tenants.map((tenant, i) => {
      const result = { tenant, ...outcome }
      options.onProgress?.({ done: i + 1, total: tenants.length, result })
      return result
    })
  }

  async tenantInfo(tenant: string): Promise<TenantInfo> {
    if ((await this.row(tenant))?.ready !== true) throw new UnknownTenantError(tenant)
    const client = await this.pool.connect()
    try {
      const { applied, pending } = await this.migrations.status(client, this.dataSchema)
      return {
        tenant,
        location: `${this.dataSchema} (${this.column} = '${tenant}')`,
        migrations: applied,
        pending,
      }
    } finally {
      client.release()
    }
  }

  // --- handles -------------------------------------------------------------------------------

  protected async open(tenant: string): Promise<Kysely<DB>> {
    const row = await this.row(tenant)
    if (row?.ready !== true) throw new UnknownTenantError(tenant)
    const expected = this.migrations.cached ?? (await this.migrations.version())
    if (row.migration_stamp !== expected) {
      const pending = await this.pending()
      if (pending.length > 0) {
        if (!this.migrateOnOpen) throw new PendingMigrationsError(tenant, pending)
        await this.migrateShared(tenant)
      }
    }
    this.opened.add(tenant)
    this.driverReady ??= this.shared.init()
    return tenantKysely<DB>(this.shared, this.driverReady, tenant, this.dataSchema, this.log)
  }
}
