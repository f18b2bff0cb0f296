/**
 * @tenantry/cache — tenant-prefixed cache keys for any shared cache, and an in-memory LRU cache
 * per tenant as a resource.
 */
import { type ResourceDefinition, requireTenant, TenantryError } from '@tenantry/context'
import { LRUCache } from 'lru-cache'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_CACHE_KEY: true
  }
}

export { LRUCache } from 'lru-cache'
export { type AttachCacheOptions, attachCache, type EnumerableCache } from './lifecycle.js'

/** A cache key could not be built: the tenant is not a non-empty string, or a key is not a string. */
export class CacheKeyError extends TenantryError {
  constructor(message: string) {
    super('TENANTRY_CACHE_KEY', message)
  }
}

/** Separates the (escaped) tenant from the key in {@link tenantKey}. */
export const TENANT_KEY_DELIMITER = ':'

/**
 * Prefixes `key` with the tenant for a cache shared by all tenants (Redis, memcached, one LRU):
 * `tenantKey('page:home')` in tenant `acme` → `acme:page:home`.
 *
 * In the tenant, `%` and `:` are percent-encoded, so the first `:` always ends the tenant and
 * the mapping is injective: tenant `a:b` + key `c` (`a%3Ab:c`) can never equal tenant `a` + key
 * `b:c` (`a:b:c`), whatever naming rule allows. The key itself is left as is, so existing
 * `:`-separated key schemes keep working. DNS-label tenant names are unchanged by the encoding.
 */
export function tenantKey(key: string, tenant: string = requireTenant()): string {
  if (typeof key !== 'string') throw new CacheKeyError('A cache key must be a string.')
  if (typeof tenant !== 'string' || tenant === '')
    throw new CacheKeyError('A tenant for a cache key must be a non-empty string.')
  return `${escapeTenant(tenant)}${TENANT_KEY_DELIMITER}${key}`
}

/** The inverse of {@link tenantKey}: splits at the first delimiter and decodes the tenant. */
export function parseTenantKey(prefixed: string): { tenant: string; key: string } {
  const i = prefixed.indexOf(TENANT_KEY_DELIMITER)
  if (i <= 0) throw new CacheKeyError(`${JSON.stringify(prefixed)} is not a tenant cache key.`)
  return { tenant: unescapeTenant(prefixed.slice(0, i)), key: prefixed.slice(i + 1) }
}

/**
 * The prefix every key of `tenant` starts with (`acme:`), for scanning or deleting one tenant's
 * keys in a shared store (`SCAN MATCH acme:*` — escape glob characters for Redis yourself).
 */
export function tenantKeyPrefix(tenant: string = requireTenant()): string {
  return tenantKey('', tenant)
}

function escapeTenant(tenant: string): string {
  // `%` first, so encoded sequences stay unambiguous.
  return tenant.replaceAll('%', '%25').replaceAll(':', '%3A')
}

function unescapeTenant(s: string): string {
  return s.replace(/%3A|%25/g, (m) => (m === '%3A' ? ':' : '%'))
}

/** Options of {@link cacheResource}: lru-cache's own (per tenant), plus a shared fallback. */
export type CacheResourceOptions<V extends NonNullable<unknown> = NonNullable<unknown>> =
  LRUCache.Options<string, V, unknown> & {
    /** Also give code outside any tenant a cache of its own; default false (tenant-only). */
    fallback?: boolean
  }

/**
 * A resource definition for an in-memory LRU cache per tenant: `getResource('cache')` inside a
 * tenant is that tenant's own `LRUCache`, bounded by `max` (and `ttl`, `maxSize`...). Tenants
 * cannot see, evict or flush each other's entries; a tenant's cache is cleared when the tenant
 * is refreshed, evicted from the resource cache, or released.
 *
 * ```ts
 * configureTenancy({ resources: { cache: cacheResource({ max: 1000, ttl: 60_000 }) } })
 * ```
 */
export function cacheResource<V extends NonNullable<unknown> = NonNullable<unknown>>(
  options: CacheResourceOptions<V>,
): ResourceDefinition<LRUCache<string, V>> {
  const { fallback, ...lru } = options
  const make = () => new LRUCache<string, V>(lru as LRUCache.Options<string, V, unknown>)
  return {
    create: make,
    dispose: (cache) => cache.clear(),
    ...(fallback === true ? { fallback: make } : { tenantOnly: true }),
  }
}
