import {
  tenancy as defaultTenancy,
  type ResourceDefinition,
  type ResourceOf,
  type Tenancy,
} from '@tenantry/context'
import { type Kysely, sql } from 'kysely'
import { SettingsTableError, SettingsValidationError } from './errors.js'
import { SETTINGS_TABLE } from './migration.js'

/** A JSON value: what a setting can hold. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue }

/** The shape of a settings object: JSON values by key. */
export type SettingsShape = { [key: string]: JsonValue }

/** Options of {@link defineSettings}. */
export interface DefineSettingsOptions<T extends SettingsShape> {
  /** Every setting with its default; the keys and value types are the schema. */
  defaults: T
  /** Name of the resource it is registered under; default `settings`. */
  resource?: string
  /** Name of the tenant database resource (a Kysely instance); default `db`. */
  db?: string
  /** Resources built from these settings, rebuilt after an update (e.g. `['renderer']`). */
  dependents?: readonly string[]
  /** Extra check of the merged values; return `true`, or a reason string to refuse. */
  validate?: (values: Readonly<T>) => true | string
  /** The tenancy; default the shared one. */
  tenancy?: Tenancy
}

/** One tenant's loaded settings: the resource's value. */
export class TenantSettings<T extends SettingsShape = SettingsShape> {
  constructor(
    /** The tenant they belong to. */
    readonly tenant: string,
    /** The values (defaults merged with what is stored), frozen. */
    readonly values: Readonly<T>,
    private readonly owner: SettingsDefinition<T>,
  ) {}

  /** Validates and stores `patch`, then refreshes the settings and their dependents. */
  update(patch: Partial<T>): Promise<Readonly<T>> {
    return this.owner.updateFor(this.tenant, patch)
  }
}

/**
 * A settings resource: a core `ResourceDefinition` (eager, async) plus typed accessors.
 * Register it under its `resource` name, after the database resource.
 */
export interface SettingsDefinition<T extends SettingsShape>
  extends ResourceDefinition<TenantSettings<T>> {
  /** The defaults given to {@link defineSettings}. */
  readonly defaults: Readonly<T>
  /** The resource name. */
  readonly resource: string
  /** The current tenant's values. */
  get(): Readonly<T>
  /** Updates the current tenant's settings; see {@link updateSettings}. */
  update(patch: Partial<T>): Promise<Readonly<T>>
  /** Updates `tenant`'s settings (from an admin tool, a job, another tenant's frame). */
  updateFor(tenant: string, patch: Partial<T>): Promise<Readonly<T>>
  /**
   * Forgets what this definition remembers of `tenant` (that it was loaded before) and drops
   * its cached settings. The stored rows live in the tenant database and go with it; see
   * `attachSettings`.
   */
  forgetTenant(tenant: string): Promise<void>
}

interface Row {
  key: string
  value: string
  updated_at: string
}

/**
 * Defines typed per-tenant settings stored in the tenant's database. The returned definition
 * is eager: its `create` runs when a tenant is entered, inside the tenant's frame, and reads the
 * stored values through the `db` resource (defined before it).
 *
 * ```ts
 * const settings = defineSettings({ defaults: { title: 'Wiki', allowedHtml: ['b', 'i'] }, dependents: ['renderer'] })
 * configureTenancy({ resources: { db, settings, renderer } })
 * ```
 */
export function defineSettings<T extends SettingsShape>(
  options: DefineSettingsOptions<T>,
): SettingsDefinition<T> {
  const defaults = deepFreeze(structuredClone(options.defaults)) as Readonly<T>
  const resource = options.resource ?? 'settings'
  const dbName = options.db ?? 'db'
  const dependents = options.dependents ?? []
  const tenancy = options.tenancy ?? defaultTenancy
  const db = () => tenancy.getResource(dbName) as Kysely<any>
  // Tenants whose settings were loaded before: a reload means the values may have changed.
  const loaded = new Set<string>()

  const def: SettingsDefinition<T> = {
    eager: true,
    defaults,
    resource,
    async create(tenant) {
      const rows = await readRows(db(), tenant)
      // A dependent built after the update but from the old snapshot (by a request that was
      // still running) may have been cached meanwhile: drop it before anyone sees the new values.
      if (loaded.has(tenant) && dependents.length > 0)
        await tenancy.refreshTenant(tenant, dependents)
      loaded.add(tenant)
      return new TenantSettings(tenant, merge(defaults, rows), def)
    },
    get() {
      return (tenancy.getResource(resource) as TenantSettings<T>).values
    },
    async update(patch) {
      return def.updateFor(tenancy.requireTenant(), patch)
    },
    async forgetTenant(tenant) {
      loaded.delete(tenant)
      await tenancy.refreshTenant(tenant, [resource, ...dependents])
    },
    async updateFor(tenant, patch) {
      tenancy.validateName(tenant)
      const entries = checkPatch(defaults, patch)
      const write = async () => {
        const conn = db()
        const now = new Date().toISOString()
        const values = await atomically(conn, async (trx) => {
          // Validate against what is stored now, not the snapshot this request started with.
          const merged = { ...merge(defaults, await readRows(trx, tenant)) } as T
          for (const [k, v] of entries) (merged as SettingsShape)[k] = v
          const verdict = options.validate?.(merged) ?? true
          if (verdict !== true) throw new SettingsValidationError(`Settings refused: ${verdict}.`)
          for (const [key, v] of entries) {
            const value = JSON.stringify(v)
            await trx
              .insertInto(SETTINGS_TABLE)
              .values({ key, value, updated_at: now })
              .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now }))
              .execute()
          }
          return deepFreeze(merged) as Readonly<T>
        })
        return values
      }
      const values =
        tenancy.currentTenant() === tenant
          ? await write()
          : await tenancy.withTenant(tenant, write, { allowSwitch: true })
      await tenancy.refreshTenant(tenant, [resource, ...dependents])
      return values
    },
  }
  return def
}

let savepoints = 0

/**
 * Runs `fn` in a transaction, or in a savepoint when `db` already is one (the app's
 * `withTransaction`, a test's rolled-back transaction): Kysely cannot nest `transaction()`.
 */
async function atomically<R>(db: Kysely<any>, fn: (trx: Kysely<any>) => Promise<R>): Promise<R> {
  if (!db.isTransaction) return await db.transaction().execute(fn)
  const name = sql.id(`tenantry_settings_${++savepoints}`)
  await sql`savepoint ${name}`.execute(db)
  let result: R
  try {
    result = await fn(db)
  } catch (error) {
    await sql`rollback to savepoint ${name}`.execute(db)
    await sql`release savepoint ${name}`.execute(db)
    throw error
  }
  await sql`release savepoint ${name}`.execute(db)
  return result
}

async function readRows(db: Kysely<any>, tenant: string): Promise<Row[]> {
  try {
    return (await db.selectFrom(SETTINGS_TABLE).selectAll().execute()) as Row[]
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    if (/no such table|does not exist|doesn't exist/i.test(message))
      throw new SettingsTableError(tenant, { cause: error })
    throw error
  }
}

/** Defaults overlaid with stored values; unknown keys and values of the wrong kind are ignored. */
function merge<T extends SettingsShape>(defaults: Readonly<T>, rows: Row[]): Readonly<T> {
  const out: SettingsShape = { ...defaults }
  for (const row of rows) {
    if (!Object.hasOwn(defaults, row.key)) continue // a setting the app no longer has
    let value: JsonValue
    try {
      value = JSON.parse(row.value) as JsonValue
    } catch {
      continue
    }
    if (kind(value) === kind(defaults[row.key]!) || defaults[row.key] === null) out[row.key] = value
  }
  return deepFreeze(out) as Readonly<T>
}

function checkPatch<T extends SettingsShape>(
  defaults: Readonly<T>,
  patch: Partial<T>,
): [string, JsonValue][] {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
    throw new SettingsValidationError('A settings patch must be an object of key/value pairs.')
  const entries: [string, JsonValue][] = []
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue
    if (!Object.hasOwn(defaults, key))
      throw new SettingsValidationError(
        `Unknown setting "${key}". Known settings: ${Object.keys(defaults).join(', ')}.`,
        key,
      )
    const expected = kind(defaults[key]!)
    if (!isJson(value))
      throw new SettingsValidationError(`Setting "${key}" must be JSON-serialisable.`, key)
    if (expected !== 'null' && kind(value) !== expected)
      throw new SettingsValidationError(
        `Setting "${key}" must be ${expected === 'array' || expected === 'object' ? 'an' : 'a'} ${expected}, got ${kind(value)}.`,
        key,
      )
    entries.push([key, structuredClone(value)])
  }
  return entries
}

function kind(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  return typeof v
}

function isJson(v: unknown): v is JsonValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true
  if (typeof v === 'number') return Number.isFinite(v)
  if (Array.isArray(v)) return v.every(isJson)
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v)
    return (proto === Object.prototype || proto === null) && Object.values(v).every(isJson)
  }
  return false
}

function deepFreeze<V>(v: V): V {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v)
    for (const x of Object.values(v)) deepFreeze(x)
  }
  return v
}

/** The values type of a settings resource value (`TenantSettings<T>` → `T`). */
export type SettingsValues<S> =
  S extends TenantSettings<infer T> ? Readonly<T> : Readonly<SettingsShape>

/**
 * The current tenant's settings from the shared tenancy's `settings` resource (or `name`).
 * Within one `withTenant` call the values do not change, even after an update: a request sees
 * one consistent version, the next one sees the new values.
 */
export function getSettings<K extends string = 'settings'>(
  name: K = 'settings' as K,
): SettingsValues<ResourceOf<K>> {
  return (defaultTenancy.getResource(name) as unknown as TenantSettings).values as SettingsValues<
    ResourceOf<K>
  >
}

/**
 * Validates and stores a patch of the current tenant's settings (shared tenancy), then calls
 * `refreshTenant(tenant, [name, ...dependents])` so the settings and everything built from
 * them are rebuilt on the tenant's next `withTenant`. Other tenants are untouched. Resolves to
 * the new values.
 */
export function updateSettings<K extends string = 'settings'>(
  patch: Partial<SettingsValues<ResourceOf<K>>>,
  name: K = 'settings' as K,
): Promise<SettingsValues<ResourceOf<K>>> {
  const s = defaultTenancy.getResource(name) as unknown as TenantSettings
  return s.update(patch as Partial<SettingsShape>) as Promise<SettingsValues<ResourceOf<K>>>
}
