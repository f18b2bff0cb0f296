import type { Entry, ResourceCache } from './resource-cache.js'

type Values = Record<string, unknown>

/**
 * The immutable value of the context variable. `overrides` is what getters see first;
 * `baseOverrides` are those made outside any tenant, the only ones that survive entering a
 * tenant (a transaction override made in tenant A must never reach tenant B).
 */
export class Frame {
  constructor(
    readonly tenant: string | undefined,
    readonly scope: Scope | null,
    readonly overrides: Values | null,
    readonly baseOverrides: Values | null,
    /** The tenant this frame may not leave without `allowSwitch`, if any. */
    readonly lock: string | undefined,
  ) {}
}

/**
 * One `withTenant` call: the instances its code has used, and the holds that keep them from
 * being disposed until the call settles.
 */
export class Scope {
  /** Instances already resolved in this scope, by resource name. */
  instances: Values = Object.create(null)
  closed = false
  private readonly caches: ResourceCache<unknown>[] = []
  private readonly entries: Entry<unknown>[] = []

  constructor(readonly tenant: string) {}

  /** Records a hold to let go of when the scope closes. */
  hold(cache: ResourceCache<unknown>, entry: Entry<unknown>): void {
    this.caches.push(cache)
    this.entries.push(entry)
  }

  close(): void {
    this.closed = true
    this.instances = Object.create(null)
    for (let i = 0; i < this.entries.length; i++) this.caches[i]!.release(this.entries[i]!)
    this.caches.length = 0
    this.entries.length = 0
  }
}
