/**
 * @tenantry/context — the tenant context of tenantry. One AsyncLocalStorage holds an immutable
 * frame; getters read the current tenant's instances from it, with singleton fallbacks.
 */
import type { TenantEnterHook, TenantLeaveHook } from './hooks.js'
import type { Runner } from './internal.js'
import { Tenancy, type TenancyConfig, type TenantScope } from './tenancy.js'
import type {
  ResourceDefinition,
  ResourceOf,
  ResourceOverrides,
  Resources,
  WithTenantOptions,
} from './types.js'

export * from './errors.js'
export type {
  TenantEnterEvent,
  TenantEnterHook,
  TenantLeaveEvent,
  TenantLeaveHook,
} from './hooks.js'
export type { Runner } from './internal.js'
export { createNameValidator, DNS_LABEL, type NamingOptions, type NamingRule } from './naming.js'
export * from './ref.js'
export {
  type EachTenantOptions,
  type ResourceDefinitions,
  Tenancy,
  type TenancyConfig,
  type TenantScope,
} from './tenancy.js'
export {
  LifecycleListenerError,
  type LifecycleTarget,
  TenantCleanupError,
  type TenantFileSet,
  TenantLifecycle,
  type TenantLifecycleEvent,
  type TenantLifecycleEvents,
  type TenantLifecycleListener,
} from './tenant-lifecycle.js'
export type {
  ResourceDefinition,
  ResourceOf,
  ResourceOverrides,
  Resources,
  TenantSource,
  WithTenantOptions,
} from './types.js'

// Two installed copies of this package must share one context: the default tenancy lives on
// globalThis under a registered symbol, versioned so an incompatible major gets its own.
const KEY = Symbol.for('tenantry.context.v1')
const shared = globalThis as typeof globalThis & { [KEY]?: Tenancy }

shared[KEY] ??= new Tenancy()
/** The default tenancy behind every exported function of this package. */
export const tenancy: Tenancy = shared[KEY]

/** Creates an independent tenancy (its own context variable and registry). */
export function createTenancy(config?: TenancyConfig): Tenancy {
  return new Tenancy(config)
}

/** Configures the default tenancy: resources, tenant source, naming rule. */
export function configureTenancy(config: TenancyConfig): Tenancy {
  return tenancy.configure(config)
}

/** Defines (or redefines) one resource on the default tenancy. */
export function defineResource<K extends string, T = ResourceOf<K>>(
  name: K,
  definition: ResourceDefinition<K extends keyof Resources ? Resources[K] : T>,
): void {
  tenancy.defineResource(name, definition)
}

/** Runs `fn` inside `tenant`; see {@link Tenancy.withTenant}. */
export function withTenant<R>(
  tenant: string,
  fn: (tenant: string) => R | PromiseLike<R>,
  options?: WithTenantOptions,
): Promise<Awaited<R>> {
  return tenancy.withTenant(tenant, fn, options)
}

/** Opens a tenant scope closed by an event, not a callback; see {@link Tenancy.enterScope}. */
export function enterScope(
  tenant: string,
  options?: WithTenantOptions,
): TenantScope | Promise<TenantScope> {
  return tenancy.enterScope(tenant, options)
}

/** Registers a hook run when a scope enters a tenant; see {@link Tenancy.onEnter}. */
export function onEnter(hook: TenantEnterHook): () => void {
  return tenancy.onEnter(hook)
}

/** Registers a hook run when a tenant scope ends; see {@link Tenancy.onLeave}. */
export function onLeave(hook: TenantLeaveHook): () => void {
  return tenancy.onLeave(hook)
}

/** Runs `fn` outside any tenant; see {@link Tenancy.withoutTenant}. */
export function withoutTenant<R>(fn: () => R): R {
  return tenancy.withoutTenant(fn)
}

/** Runs `fn` with some resources replaced; see {@link Tenancy.withOverrides}. */
export function withOverrides<R>(overrides: ResourceOverrides, fn: () => R): R {
  return tenancy.withOverrides(overrides, fn)
}

/** Runs `fn` once inside each tenant; see {@link Tenancy.withEachTenant}. */
export function withEachTenant<R>(
  fn: (tenant: string) => R | PromiseLike<R>,
  options?: Parameters<Tenancy['withEachTenant']>[1],
): Promise<Awaited<R>[]> {
  return tenancy.withEachTenant(fn, options)
}

/** The current tenant, or `undefined` outside any tenant. */
export function currentTenant(): string | undefined {
  return tenancy.currentTenant()
}

/** The current tenant; throws `NoTenantError` outside any tenant. */
export function requireTenant(): string {
  return tenancy.requireTenant()
}

/** The current value of any resource by name. */
export function getResource<K extends string>(name: K): ResourceOf<K> {
  return tenancy.getResource(name)
}

/** The current tenant's database (resource `db`). */
export const getDb: () => ResourceOf<'db'> = tenancy.getter('db')

/** The current tenant's file storage (resource `storage`). */
export const getStorage: () => ResourceOf<'storage'> = tenancy.getter('storage')

/** The current tenant's renderer (resource `renderer`). */
export const getRenderer: () => ResourceOf<'renderer'> = tenancy.getter('renderer')

/** The current tenant's mailer (resource `mail`). */
export const getMail: () => ResourceOf<'mail'> = tenancy.getter('mail')

/** Captures the current frame; see {@link Tenancy.snapshot}. */
export function snapshot(): Runner {
  return tenancy.snapshot()
}

/** Binds `fn` to the current frame; see {@link Tenancy.bind}. */
export function bind<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return tenancy.bind(fn)
}

/** Drops the tenant's cached instances; see {@link Tenancy.refreshTenant}. */
export function refreshTenant(tenant: string, resourceNames?: readonly string[]): Promise<void> {
  return tenancy.refreshTenant(tenant, resourceNames)
}

/** Disposes the tenant's instances and waits for in-flight use; see {@link Tenancy.releaseTenant}. */
export function releaseTenant(tenant: string, options?: { timeoutMs?: number }): Promise<void> {
  return tenancy.releaseTenant(tenant, options)
}

/** Fields to add to a log line: `{ tenant }` inside a tenant, `{}` outside (a pino mixin). */
export function tenantLogFields(): { tenant?: string } {
  const tenant = tenancy.currentTenant()
  return tenant === undefined ? {} : { tenant }
}
