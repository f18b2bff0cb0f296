/**
 * The application's resources, by name. Augment it to type the getters:
 *
 * ```ts
 * declare module '@tenantry/context' {
 *   interface Resources { db: Kysely<DB>; mail: TenantMailer }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by declaration merging
export interface Resources {}

/** The type of resource `K`: the app's declared type, or `unknown` when undeclared. */
export type ResourceOf<K extends string> = K extends keyof Resources ? Resources[K] : unknown

/** A set of resource replacements for {@link withOverrides}. */
export type ResourceOverrides = { [K in keyof Resources]?: Resources[K] } & {
  [name: string]: unknown
}

/** How one resource is made, cached and released. */
export interface ResourceDefinition<T> {
  /**
   * Builds the tenant's instance. It runs inside the tenant's frame, so it may call the getters
   * of other resources (for eager ones: those defined before it). Absent: the resource is
   * global (always the fallback).
   */
  create?: (tenant: string) => T | Promise<T>
  /** Releases an instance (close a database, flush a transport); called exactly once per
   * instance, with `tenant` undefined for the fallback singleton. */
  dispose?: (instance: T, tenant: string | undefined) => void | Promise<void>
  /** Builds the singleton used outside any tenant; called at most once, lazily. */
  fallback?: () => T
  /** Outside a tenant, throw `NoTenantError` instead of using a fallback. */
  tenantOnly?: boolean
  /** Most idle instances kept open (least recently used go first); default 50. */
  cap?: number
  /** Open during `withTenant`, before the callback runs (required for async factories). */
  eager?: boolean
  /** Dispose instances idle for this long (ms); default: never. */
  idleTimeoutMs?: number
}

/** Where tenants come from: `withTenant` asks it whether a tenant exists. */
export interface TenantSource {
  /** True when the tenant exists and is ready. */
  exists(tenant: string): boolean | Promise<boolean>
  /** All ready tenants, sorted (used by `withEachTenant`). */
  list?(): string[] | Promise<string[]>
}

/** Options of `withTenant`. */
export interface WithTenantOptions {
  /** Allow entering this tenant from inside another one (admin tools, iteration helpers). */
  allowSwitch?: boolean
}
