import type { LifecycleTarget } from '@tenantry/context'
import { tenantKeyPrefix } from './index.js'

/** A shared cache whose keys can be listed and deleted (an `LRUCache`, a `Map`). */
export interface EnumerableCache {
  keys(): Iterable<string>
  delete(key: string): unknown
}

/** Options of {@link attachCache}. */
export interface AttachCacheOptions {
  /** Shared in-process caches keyed with `tenantKey` (an `LRUCache`, a `Map`). */
  caches?: readonly EnumerableCache[]
  /**
   * Deletes every key starting with a prefix in an external cache (Redis: `SCAN MATCH` then
   * `UNLINK`; escape glob characters yourself). Called with `tenantKeyPrefix(tenant)`.
   */
  deletePrefix?: (prefix: string) => Promise<unknown> | unknown
}

/**
 * Removes a tenant's entries from shared caches when the tenant is destroyed, and before a
 * tenant of that name is created (so it never reads its predecessor's entries), and after a
 * restore (the entries describe the data it replaced). The per-tenant
 * `cacheResource` needs nothing: the store releases the tenant, which clears it. Returns a
 * detach function.
 */
export function attachCache(target: LifecycleTarget, options: AttachCacheOptions): () => void {
  const purge = async ({ tenant }: { tenant: string }) => {
    const prefix = tenantKeyPrefix(tenant)
    for (const cache of options.caches ?? [])
      for (const key of [...cache.keys()]) if (key.startsWith(prefix)) cache.delete(key)
    await options.deletePrefix?.(prefix)
  }
  const off = [
    target.lifecycle.on('creating', purge),
    target.lifecycle.on('destroyed', purge),
    // A restore over an existing tenant: its cached entries describe the data it replaced.
    target.lifecycle.on('restored', purge),
  ]
  return () => {
    for (const f of off) f()
  }
}
