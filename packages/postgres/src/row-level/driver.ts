import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  type KyselyConfig,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely'
import { RowLevelRefusedError } from '../errors.js'
import { TENANT_SETTING } from './plugin.js'

/** `select set_config('app.tenant', '<tenant>', true)`: the tenant, for this transaction only. */
export function tenantSettingSql(tenant: string): string {
  // A literal, not a parameter, so it can share one simple-protocol round trip with BEGIN.
  return `select set_config('${TENANT_SETTING}', '${tenant.replaceAll("'", "''")}', true)`
}

/** A pooled connection that runs every statement inside a transaction naming its tenant. */
class TenantConnection implements DatabaseConnection {
  inTransaction = false

  constructor(
    readonly inner: DatabaseConnection,
    private readonly setting: string,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.inTransaction) return this.inner.executeQuery<R>(query)
    // Outside a transaction every statement gets its own, so the setting is SET LOCAL and
    // never outlives it on the pooled (or PgBouncer) connection.
    await this.inner.executeQuery(CompiledQuery.raw(`begin; ${this.setting}`))
    try {
      const result = await this.inner.executeQuery<R>(query)
      await this.inner.executeQuery(CompiledQuery.raw('commit'))
      return result
    } catch (error) {
      await this.inner.executeQuery(CompiledQuery.raw('rollback')).catch(() => {})
      throw error
    }
  }

  async *streamQuery<R>(
    query: CompiledQuery,
    chunkSize?: number,
  ): AsyncIterableIterator<QueryResult<R>> {
    if (!this.inTransaction)
      throw new RowLevelRefusedError(
        'a query streams only inside a transaction (withTransaction), where the tenant is set.',
      )
    yield* this.inner.streamQuery<R>(query, chunkSize)
  }
}

/**
 * One tenant's view of a shared driver: each transaction starts with `BEGIN; SELECT
 * set_config('app.tenant', …, true)` in one round trip, so the row-level policies see the tenant
 * and the setting ends with the transaction (PgBouncer transaction mode is safe). Statements
 * outside a transaction are wrapped in one each: three round trips instead of one.
 */
export class TenantDriver implements Driver {
  private readonly setting: string

  constructor(
    private readonly shared: Driver,
    private readonly ready: Promise<void>,
    tenant: string,
  ) {
    this.setting = tenantSettingSql(tenant)
  }

  init(): Promise<void> {
    return this.ready
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new TenantConnection(await this.shared.acquireConnection(), this.setting)
  }

  async beginTransaction(
    connection: DatabaseConnection,
    settings: TransactionSettings,
  ): Promise<void> {
    const c = connection as TenantConnection
    let begin = 'begin'
    if (settings.isolationLevel || settings.accessMode)
      begin = [
        'start transaction',
        settings.isolationLevel && `isolation level ${settings.isolationLevel}`,
        settings.accessMode,
      ]
        .filter(Boolean)
        .join(' ')
    await c.inner.executeQuery(CompiledQuery.raw(`${begin}; ${this.setting}`))
    c.inTransaction = true
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as TenantConnection
    c.inTransaction = false
    await c.inner.executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as TenantConnection
    c.inTransaction = false
    await c.inner.executeQuery(CompiledQuery.raw('rollback'))
  }

  async savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.shared.savepoint!((connection as TenantConnection).inner, name, compile)
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.shared.rollbackToSavepoint!((connection as TenantConnection).inner, name, compile)
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.shared.releaseSavepoint!((connection as TenantConnection).inner, name, compile)
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const c = connection as TenantConnection
    if (c.inTransaction) {
      // Released mid-transaction (an aborted caller): end it before the connection is reused.
      c.inTransaction = false
      await c.inner.executeQuery(CompiledQuery.raw('rollback')).catch(() => {})
    }
    await this.shared.releaseConnection(c.inner)
  }

  /** The shared driver belongs to the store; a tenant's handle has nothing of its own to end. */
  async destroy(): Promise<void> {}
}

/** One tenant's Kysely over the store's shared driver, scoped to the shared tables' schema. */
export function tenantKysely<DB>(
  shared: Driver,
  ready: Promise<void>,
  tenant: string,
  schema: string,
  log: KyselyConfig['log'],
): Kysely<DB> {
  return new Kysely<any>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new TenantDriver(shared, ready, tenant),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
    ...(log === undefined ? {} : { log }),
  }).withSchema(schema) as unknown as Kysely<DB>
}
