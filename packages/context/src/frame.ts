import type { Entry } from './resource-cache.js'

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
 * The frame of a scope entering `tenant` from frame `cur`: only the overrides made outside any
 * tenant come along (never another tenant's), and the tenant becomes the switch lock.
 */
export function tenantFrame(cur: Frame | undefined, tenant: string, scope: Scope): Frame {
  const base = cur === undefined ? null : cur.baseOverrides
  return new Frame(tenant, scope, base, base, tenant)
}

/**
 * One `withTenant` call: the instances its code has used, and the holds that keep them from
 * being disposed until the call settles.
 */
export class Scope {
  /** Instances already resolved in this scope, by resource slot (see `ResourceRegistry.slotOf`). */
  instances: unknown[]
  closed = false
  // The first hold lives in a field: most scopes hold one instance (the database), and the
  // warm withTenant path should not allocate an array for it.
  private first: Entry<unknown> | null = null
  private more: Entry<unknown>[] | null = null

  constructor(
    readonly tenant: string,
    /** The refresh epoch when the scope opened (see `Tenancy.refreshTenant`). */
    readonly generation: number,
    /** How many slots the registry has: sized up front, the first write does not grow it. */
    slots: number,
  ) {
    this.instances = new Array(slots)
  }

  /** Records a hold to let go of when the scope closes. */
  hold(entry: Entry<unknown>): void {
    if (this.first === null) this.first = entry
    else if (this.more === null) this.more = [entry]
    else this.more.push(entry)
  }

  close(): void {
    this.closed = true
    this.instances = CLOSED
    const first = this.first
    if (first === null) return
    this.first = null
    first.cache.release(first)
    const more = this.more
    if (more === null) return
    this.more = null
    for (let i = 0; i < more.length; i++) more[i]!.cache.release(more[i]!)
  }
}

/** The instances of every closed scope: always empty (resolveInScope never writes to it). */
const CLOSED: unknown[] = Object.freeze([]) as unknown as unknown[]
