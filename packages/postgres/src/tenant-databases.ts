import { UnknownTenantError } from '@tenantry/context'
import {
  type ArchiveBackend,
  type CreateTenantOptions,
  type DestroyTenantOptions,
  type MigrateAllOptions,
  PendingMigrationsError,
  TenantDeletedError,
  TenantExistsError,
  type TenantInfo,
  type TenantMigrationResult,
} from '@tenantry/kysely'
import { Kysely, PostgresDialect, type RawBuilder, sql } from 'kysely'
import type pg from 'pg'
import { schemaSize } from './catalog.js'
import { SchemaNameError } from './errors.js'
import { searchPath } from './lock.js'
import { migrateStale } from './migrate-all.js'
import { MigrationSet } from './migrations.js'
import { advisoryKey, checkPrefix, checkSchema, quoteIdent, schemaFor } from './naming.js'
import { postgresOperations } from './operations.js'
import { RegisteredStore } from './registered-store.js'
import { Registry, type RegistryRow } from './registry.js'
import type { PostgresTenantDatabases, PostgresTenantDatabasesOptions } from './types.js'

/**
 * Creates the PostgreSQL store: one schema per tenant, one shared `pg.Pool`, queries scoped with
 * Kysely's `withSchema`. Call `install()` to serve it through `getDb()`.
 */
export function createPostgresTenantDatabases<DB, CentralDB = unknown>(
  options: PostgresTenantDatabasesOptions,
): PostgresTenantDatabases<DB, CentralDB> {
  return new PostgresTenantStore<DB, CentralDB>(options)
}

/** The schema-per-tenant store (exported for the sharded store, which keeps one per shard). */
export class PostgresTenantStore<DB, CentralDB>
  extends RegisteredStore<DB, CentralDB>
  implements PostgresTenantDatabases<DB, CentralDB>
{
  readonly schemaPrefix: string
  protected readonly registry: Registry
  private readonly centralSchema: string
  private readonly migrations: MigrationSet
  private readonly kysely: Kysely<any>

  constructor(options: PostgresTenantDatabasesOptions) {
    const registrySchema = checkSchema(options.registrySchema ?? 'tenantry', 'registrySchema')
    const centralSchema = checkSchema(options.centralSchema ?? 'public', 'centralSchema')
    super(options, { registrySchema, centralSchema })
    this.schemaPrefix = checkPrefix(options.schemaPrefix ?? 't_')
    this.centralSchema = centralSchema
    this.migrations = new MigrationSet(options.migrations)
    this.registry = new Registry(
      this.pool,
      registrySchema,
      this.schemaPrefix,
      this.locks,
      this.lockTimeoutMs,
    )
    // Kysely must not end a pool it does not own: it sees a wrapper whose end() is ours.
    this.kysely = new Kysely<any>({
      dialect: new PostgresDialect({ pool: this.borrowedPool() }),
      ...(options.log === undefined ? {} : { log: options.log }),
    })
  }

  schemaOf(tenant: string): string {
    const schema = schemaFor(this.schemaPrefix, this.tenancy.validateName(tenant))
    if (schema === this.registry.schema || schema === this.centralSchema)
      throw new SchemaNameError(tenant, schema, 'that is the registry or central schema')
    return schema
  }

  table(name: string): RawBuilder<unknown> {
    return sql.id(this.schemaOf(this.tenancy.requireTenant()), name)
  }

  protected registryKey(tenant: string): string {
    return this.schemaOf(tenant)
  }

  lockKey(tenant: string): string {
    return advisoryKey(this.registry.schema, this.schemaOf(tenant))
  }

  // --- lifecycle -----------------------------------------------------------------------------

  async createTenant(tenant: string, options: CreateTenantOptions = {}): Promise<void> {
    const schema = this.schemaOf(tenant)
    const exists = (row: RegistryRow | undefined) => {
      if (row?.purge_at) throw new TenantDeletedError(tenant, row.purge_at) // name held
      if (row?.ready !== true) return false
      if (options.ifNotExists) return true
      throw new TenantExistsError(tenant)
    }
    if (exists(await this.row(tenant))) return
    const built = await this.locked(
      tenant,
      async (client) => {
        const row = await this.row(tenant, client)
        if (exists(row)) return false
        await this.creating(tenant)
        // A row that never became ready: leftovers of a non-transactional step. Ours to clear.
        if (row !== undefined) await this.registry.remove(client, schema)
        // Inside the transaction nobody else sees the row, the schema or its tables; a failure
        // rolls all of it back, and the commit makes the tenant appear whole.
        await this.registry.insert(client, schema, tenant)
        try {
          await client.query(`create schema ${quoteIdent(schema)}`)
        } catch (error) {
          if ((error as { code?: string }).code === '42P06')
            throw new SchemaNameError(
              tenant,
              schema,
              'a schema of that name already exists outside the registry',
            )
          throw error
        }
        await searchPath(client, schema)
        await this.migrations.migrate(client, schema, tenant, { fresh: true })
        await this.registry.markReady(client, schema, await this.migrations.version())
        return true
      },
      'creating',
    )
    if (built) await this.lifecycle.emit('created', { tenant })
  }

  async destroyTenant(tenant: string, options?: DestroyTenantOptions): Promise<void> {
    if (options?.graceMs !== undefined) return await this.softDestroy(tenant, options.graceMs)
    const schema = this.schemaOf(tenant)
    if ((await this.row(tenant))?.ready !== true) throw new UnknownTenantError(tenant)
    await this.hiding(tenant, () =>
      this.locked(
        tenant,
        async (client) => {
          if ((await this.row(tenant, client))?.ready !== true) throw new UnknownTenantError(tenant)
          // One transaction: other processes see the tenant whole until the commit, then gone.
          await this.registry.remove(client, schema)
        },
        'destroying',
      ),
    )
    // After the commit, locked again: a tenant re-created meanwhile keeps what it made since.
    await this.locked(
      tenant,
      async (client) => {
        if ((await this.row(tenant, client))?.ready !== true) await this.destroyed(tenant)
      },
      'destroying',
    )
  }

  /**
   * Runs `fn` in a transaction holding the tenant's lock, with its schema name (for the sharded
   * store's moves). @internal
   */
  withTenantLock<R>(
    tenant: string,
    fn: (client: pg.PoolClient, schema: string) => Promise<R>,
  ): Promise<R> {
    const schema = this.schemaOf(tenant)
    return this.locked(tenant, (client) => fn(client, schema), 'moving')
  }

  /** Drops the tenant's schema and registry row inside the caller's locked transaction. @internal */
  async dropIn(client: pg.PoolClient, tenant: string): Promise<void> {
    await this.registry.remove(client, this.schemaOf(tenant))
  }

  /** Drops a copy of the tenant that is not placed on this shard (after a failed move). @internal */
  async dropUnplaced(tenant: string): Promise<void> {
    const schema = this.schemaOf(tenant)
    await this.locked(tenant, (client) => this.registry.remove(client, schema), 'dropping')
  }

  // --- migrations ----------------------------------------------------------------------------

  async migrateTenant(tenant: string): Promise<TenantMigrationResult> {
    const schema = this.schemaOf(tenant)
    const expected = await this.migrations.version()
    const row = await this.row(tenant)
    if (row?.ready !== true) throw new UnknownTenantError(tenant)
    // The stamp only moves towards the current set, so a match needs no lock and no Migrator.
    if (row.migration_stamp === expected) return { tenant, applied: [] }
    const result = await this.locked(
      tenant,
      async (client) => {
        const current = await this.row(tenant, client)
        if (current?.ready !== true) throw new UnknownTenantError(tenant)
        if (current.migration_stamp === expected) return { tenant, applied: [] }
        await searchPath(client, schema)
        const applied = await this.migrations.migrate(client, schema, tenant)
        await this.registry.stamp(client, schema, expected)
        return { tenant, applied }
      },
      'migrating',
    )
    return await this.migrated(result)
  }

  protected override rollback(tenant: string, steps: number): Promise<string[]> {
    return this.operations().rollback(tenant, steps)
  }

  protected override archiveBackend(): ArchiveBackend {
    return this.operations().archive()
  }

  /** The archive side, for the sharded store that delegates to its shards. @internal */
  archiveSide(): ArchiveBackend {
    return this.archiveBackend()
  }

  private operations() {
    return postgresOperations({
      pool: this.pool,
      migrations: this.migrations,
      registry: this.registry,
      schemaOf: (t) => this.schemaOf(t),
      locked: (t, fn, what) => this.locked(t, fn, what),
      hide: (t) => this.hide(t),
    })
  }

  /** Only tenants with a stale stamp migrate (one indexed query finds them); see `migrateStale`. */
  override async migrateAllTenants(
    options: MigrateAllOptions = {},
  ): Promise<TenantMigrationResult[]> {
    const stale = await this.registry.stale(await this.migrations.version())
    return migrateStale(await this.list(), stale, (t) => this.migrateTenant(t), options)
  }

  async tenantInfo(tenant: string): Promise<TenantInfo> {
    const schema = this.schemaOf(tenant)
    if ((await this.row(tenant))?.ready !== true) throw new UnknownTenantError(tenant)
    const client = await this.pool.connect()
    try {
      const { applied, pending } = await this.migrations.status(client, schema)
      return {
        tenant,
        location: schema,
        size: await schemaSize(client, schema),
        migrations: applied,
        pending,
      }
    } finally {
      client.release()
    }
  }

  // --- handles -------------------------------------------------------------------------------

  /** Checks the registry and the migration stamp, returns a schema view. */
  protected async open(tenant: string): Promise<Kysely<DB>> {
    const schema = this.schemaOf(tenant)
    const row = await this.row(tenant)
    if (row?.ready !== true) throw new UnknownTenantError(tenant)
    const expected = this.migrations.cached ?? (await this.migrations.version())
    if (row.migration_stamp !== expected) {
      const client = await this.pool.connect()
      let pending: string[]
      try {
        pending = (await this.migrations.status(client, schema)).pending
      } finally {
        client.release()
      }
      if (pending.length > 0) {
        if (!this.migrateOnOpen) throw new PendingMigrationsError(tenant, pending)
        await this.migrateTenant(tenant)
      }
    }
    this.opened.add(tenant)
    // A plugin on the shared instance: every table reference gets the schema, on any pooled
    // connection, whatever that connection's search_path.
    return this.kysely.withSchema(schema) as unknown as Kysely<DB>
  }

  protected override async closeBackend(): Promise<void> {
    await this.kysely.destroy()
  }
}
