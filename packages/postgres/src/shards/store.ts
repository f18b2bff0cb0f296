import { TenancyConfigError, UnknownTenantError } from '@tenantry/context'
import {
  type ArchiveBackend,
  type BaseStoreOptions,
  type CreateTenantOptions,
  type DestroyTenantOptions,
  type MigrateAllOptions,
  type TenantDatabaseStore,
  TenantExistsError,
  type TenantInfo,
  type TenantMigrationResult,
} from '@tenantry/kysely'
import { type Kysely, type KyselyConfig, type RawBuilder, sql } from 'kysely'
import type pg from 'pg'
import { TenantMoveError } from '../errors.js'
import { checkPrefix, checkSchema, schemaFor } from '../naming.js'
import { PostgresBaseStore } from '../postgres-store.js'
import { PostgresTenantStore } from '../tenant-databases.js'
import { shardedArchiveBackend } from './archive.js'
import { copyTenant } from './copy.js'
import { leastTenants, Placement, type PlacementPolicy } from './placement.js'

/** One shard: a PostgreSQL database (on any server) holding whole tenant schemas. */
export type ShardOption = string | { connectionString?: string; pool?: pg.Pool }

/** Options of {@link createShardedTenantDatabases}. */
export interface ShardedTenantDatabasesOptions extends BaseStoreOptions {
  /** The shards by name (a connection string or a pool each); names are stored in the placement. */
  shards: Record<string, ShardOption>
  /** The central database: the placement table, the central schema. */
  central: ShardOption
  /** Where a new tenant goes; default {@link leastTenants}. */
  place?: PlacementPolicy | undefined
  /** Size of each pool this store makes (one per shard, opened on first use); default 10. */
  poolMax?: number | undefined
  /** Prefix of every tenant schema on every shard; default `t_`. */
  schemaPrefix?: string | undefined
  /** Schema of the placement table (central) and of each shard's registry; default `tenantry`. */
  registrySchema?: string | undefined
  /** Schema of the central (untenanted) tables; default `public`. */
  centralSchema?: string | undefined
  /** Kysely's `log` option. */
  log?: KyselyConfig['log'] | undefined
}

/** Tenant schemas spread over several PostgreSQL databases through a placement table. */
export interface ShardedTenantDatabases<DB, CentralDB = unknown>
  extends TenantDatabaseStore<DB, CentralDB> {
  /** The configured shard names. */
  readonly shards: readonly string[]
  /** The shard holding `tenant` (from the placement table). */
  shardOf(tenant: string): Promise<string>
  /** The tenant's schema name (the same on every shard). */
  schemaOf(tenant: string): string
  /** A table of the current tenant, schema-qualified, for raw `sql` templates. */
  table(name: string): RawBuilder<unknown>
  /**
   * Moves a tenant to another shard: copies its schema and rows, switches the placement while
   * the tenant is held (new scopes in this process wait, then run on the new shard; writers in
   * other processes wait on the source tables' locks), verifies row counts, drops the old copy.
   */
  moveTenant(tenant: string, toShard: string): Promise<void>
}

/**
 * Creates the sharded store: each shard is a schema-per-tenant store of its own (its pool
 * opened on first use); a placement table in the central database says which shard holds
 * which tenant, and every call routes through it.
 */
export function createShardedTenantDatabases<DB, CentralDB = unknown>(
  options: ShardedTenantDatabasesOptions,
): ShardedTenantDatabases<DB, CentralDB> {
  return new ShardedStore<DB, CentralDB>(options)
}

const RECORD = 'kysely_migration'

class ShardedStore<DB, CentralDB>
  extends PostgresBaseStore<DB, CentralDB>
  implements ShardedTenantDatabases<DB, CentralDB>
{
  readonly shards: readonly string[]
  private readonly options: ShardedTenantDatabasesOptions
  private readonly stores = new Map<string, PostgresTenantStore<DB, unknown>>()
  private readonly placement: Placement
  private readonly place: PlacementPolicy
  private readonly prefix: string
  private readonly registrySchema: string
  /** Tenants being moved: opening one waits for the move to end. */
  private readonly held = new Map<string, Promise<void>>()
  /** Tenant → the shard whose handle the core holds (to dispose it there). */
  private readonly handles = new Map<string, string>()

  constructor(options: ShardedTenantDatabasesOptions) {
    const registrySchema = checkSchema(options.registrySchema ?? 'tenantry', 'registrySchema')
    const centralSchema = checkSchema(options.centralSchema ?? 'public', 'centralSchema')
    const central =
      typeof options.central === 'string' ? { connectionString: options.central } : options.central
    // The store's own pool is the central database's: the placement table and central schema.
    super({ ...options, ...central }, { registrySchema, centralSchema })
    this.options = options
    this.registrySchema = registrySchema
    this.shards = Object.keys(options.shards).sort()
    if (this.shards.length === 0)
      throw new TenancyConfigError('shards: configure at least one shard.')
    this.prefix = checkPrefix(options.schemaPrefix ?? 't_')
    this.placement = new Placement(this.pool, this.registrySchema, this.prefix)
    this.place = options.place ?? leastTenants
  }

  /** The schema-per-tenant store of one shard, made (and its pool opened) on first use. */
  private shard(name: string): PostgresTenantStore<DB, unknown> {
    let store = this.stores.get(name)
    if (store === undefined) {
      const option = this.options.shards[name]
      if (option === undefined)
        throw new TenancyConfigError(
          `Unknown shard "${name}"; configured: ${this.shards.join(', ')}.`,
        )
      const o = this.options
      const spec = typeof option === 'string' ? { connectionString: option } : option
      store = new PostgresTenantStore<DB, unknown>({
        ...spec,
        migrations: o.migrations,
        tenancy: this.tenancy,
        schemaPrefix: this.prefix,
        registrySchema: this.registrySchema,
        migrateOnOpen: this.migrateOnOpen,
        lockTimeoutMs: this.lockTimeoutMs,
        releaseTimeoutMs: this.releaseTimeoutMs,
        // The placement is the source of truth; each shard answers only when asked.
        existsCacheMs: 0,
        // This store guards the handles it hands out (or not, as configured): guarding them in
        // the shard's store too would check every query twice.
        tenantGuard: false,
        ...(o.poolMax === undefined ? {} : { poolMax: o.poolMax }),
        ...(o.log === undefined ? {} : { log: o.log }),
      })
      this.stores.set(name, store)
    }
    return store
  }

  schemaOf(tenant: string): string {
    return schemaFor(this.prefix, this.tenancy.validateName(tenant))
  }

  table(name: string): RawBuilder<unknown> {
    return sql.id(this.schemaOf(this.tenancy.requireTenant()), name)
  }

  async shardOf(tenant: string): Promise<string> {
    const row = await this.placement.get(this.tenancy.validateName(tenant))
    if (row?.ready !== true) throw new UnknownTenantError(tenant)
    return row.shard
  }

  protected async probe(tenant: string): Promise<boolean> {
    return (await this.placement.get(this.tenancy.validateName(tenant)))?.ready === true
  }

  protected listReady(): Promise<string[]> {
    return this.placement.list()
  }

  // --- lifecycle -----------------------------------------------------------------------------

  /** The placement policy's shard for a new tenant (checked against the configured ones). */
  private async choose(tenant: string): Promise<string> {
    const choice = await this.place(tenant, await this.placement.counts(this.shards))
    if (!this.shards.includes(choice))
      throw new TenancyConfigError(
        `The placement policy chose "${choice}", which is no configured shard.`,
      )
    return choice
  }

  async createTenant(tenant: string, options: CreateTenantOptions = {}): Promise<void> {
    this.tenancy.validateName(tenant)
    let row = await this.placement.get(tenant)
    if (row?.ready === true) {
      if (options.ifNotExists) return
      throw new TenantExistsError(tenant)
    }
    row ??= await this.placement.reserve(tenant, await this.choose(tenant))
    try {
      await this.creating(tenant)
      await this.shard(row.shard).createTenant(tenant, options)
    } catch (error) {
      // Another creator may have finished it; otherwise forget the reservation.
      if (!(error instanceof TenantExistsError))
        await this.placement.remove(tenant, true).catch(() => {})
      throw error
    }
    await this.placement.markReady(tenant)
    await this.lifecycle.emit('created', { tenant })
  }

  async destroyTenant(tenant: string, options?: DestroyTenantOptions): Promise<void> {
    // Not offered across shards (TENANTRY_OPERATION_UNSUPPORTED), never a silent hard destroy.
    if (options?.graceMs !== undefined) return await this.softDestroy(tenant, options.graceMs)
    const shard = await this.shardOf(tenant)
    await this.hiding(tenant, async () => {
      await this.shard(shard).destroyTenant(tenant)
      await this.placement.remove(tenant)
    })
    await this.destroyed(tenant) // files, jobs, cache entries of the tenant (the lifecycle)
  }

  async migrateTenant(tenant: string): Promise<TenantMigrationResult> {
    return this.migrated(await this.shard(await this.shardOf(tenant)).migrateTenant(tenant))
  }

  /** Every shard migrates its own tenants, all shards at once. */
  override async migrateAllTenants(
    options: MigrateAllOptions = {},
  ): Promise<TenantMigrationResult[]> {
    const placed = new Set(await this.list())
    const counts = await this.placement.counts(this.shards)
    const used = new Set([...counts].filter(([, n]) => n > 0).map(([shard]) => shard))
    let done = 0
    const total = placed.size
    const perShard = await Promise.all(
      this.shards
        .filter((s) => used.has(s))
        .map((s) =>
          this.shard(s).migrateAllTenants({
            ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
            onProgress: (p) => {
              if (placed.has(p.result.tenant))
                options.onProgress?.({ done: ++done, total, result: p.result })
            },
          }),
        ),
    )
    return perShard
      .flat()
      .filter((r) => placed.has(r.tenant))
      .sort((a, b) => (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0))
  }

  async tenantInfo(tenant: string): Promise<TenantInfo> {
    const shard = await this.shardOf(tenant)
    const info = await this.shard(shard).tenantInfo(tenant)
    return { ...info, location: `${shard}:${info.location}` }
  }

  // --- operations: each on the shard holding the tenant --------------------------------------

  protected override archiveBackend(): ArchiveBackend {
    return shardedArchiveBackend({
      placement: this.placement,
      shardOf: (t) => this.shardOf(t),
      choose: (t) => this.choose(t),
      backend: (shard) => this.shard(shard).archiveSide(),
      anyBackend: () => this.shard(this.shards[0]!).archiveSide(),
    })
  }

  protected override async rollback(tenant: string, steps: number): Promise<string[]> {
    const shard = this.shard(await this.shardOf(tenant))
    return (await shard.rollbackTenant(tenant, { steps })).rolledBack
  }

  // --- moving --------------------------------------------------------------------------------

  async moveTenant(tenant: string, toShard: string): Promise<void> {
    const from = await this.shardOf(tenant)
    const target = this.shard(toShard)
    if (from === toShard) return
    if (this.held.has(tenant))
      throw new TenantMoveError(tenant, from, toShard, 'another move of it is running')
    let release!: () => void
    this.held.set(
      tenant,
      new Promise<void>((r) => {
        release = r
      }),
    )
    try {
      // Scopes already running finish on the old shard; new ones wait in open().
      await this.tenancy.releaseTenant(tenant, { timeoutMs: this.releaseTimeoutMs })
      // A copy left on the target by an interrupted move is not placed there: clear it.
      if (await target.exists(tenant)) await target.dropUnplaced(tenant)
      await target.createTenant(tenant)
      let switched = false
      try {
        await this.shard(from).withTenantLock(tenant, async (source, sourceSchema) => {
          await target.withTenantLock(tenant, (dest, destSchema) =>
            copyTenant(
              source,
              sourceSchema,
              dest,
              destSchema,
              [RECORD],
              (reason) => new TenantMoveError(tenant, from, toShard, reason),
            ),
          )
          if (!(await this.placement.switch(tenant, from, toShard)))
            throw new TenantMoveError(tenant, from, toShard, 'its placement changed meanwhile')
          switched = true
          // Same transaction as the locks: other processes' waiting writers fail, never land.
          await this.shard(from).dropIn(source, tenant)
        })
      } catch (error) {
        if (switched) throw error
        await target.dropUnplaced(tenant).catch(() => {})
        throw error instanceof TenantMoveError
          ? error
          : new TenantMoveError(tenant, from, toShard, String((error as Error)?.message), error)
      }
    } finally {
      this.held.delete(tenant)
      release()
    }
  }

  // --- handles -------------------------------------------------------------------------------

  protected async open(tenant: string): Promise<Kysely<DB>> {
    await this.held.get(tenant)
    const shard = await this.shardOf(tenant)
    const db = await this.shard(shard).resource.create!(tenant)
    this.handles.set(tenant, shard)
    return db
  }

  protected override async dispose(db: Kysely<DB>, tenant: string | undefined): Promise<void> {
    if (tenant === undefined) return
    const shard = this.handles.get(tenant)
    this.handles.delete(tenant)
    if (shard !== undefined) await this.stores.get(shard)?.resource.dispose?.(db, tenant)
  }

  protected override openTenants(): Iterable<string> {
    return this.handles.keys()
  }

  protected override async closeBackend(): Promise<void> {
    for (const store of this.stores.values()) await store.close()
  }
}
