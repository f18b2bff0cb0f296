import type Database from 'better-sqlite3'

/** A tenant connection's memory budget (see `TenantDatabasesOptions.memory`). */
export interface ConnectionMemoryOptions {
  /**
   * Most page cache one connection may hold, in KiB; default 2048 (SQLite's own default:
   * better-sqlite3 raises it to 16 MB, which is 4 GB over 256 open tenants).
   */
  cacheSizeKiB?: number | undefined
  /**
   * A connection no scope entered for between one and two such periods (ms) gives its cache
   * back with `PRAGMA shrink_memory`, halving what an idle handle holds; default 1000, 0 = never.
   */
  shrinkIdleMs?: number | undefined
}

/** better-sqlite3's compiled-in `cache_size` (KiB, as a negative pragma value). */
const BUILD_CACHE_KIB = 16_000

/** The page-cache ceiling a tenant connection gets unless told otherwise (KiB). */
export const DEFAULT_CACHE_KIB = 2048

/**
 * Applies the page-cache budget to a freshly opened connection, when it changes anything.
 * The handle has read its stamp already, so the schema is loaded and the pragma is cheap; a
 * `SQLITE_BUSY` (another process recovering the WAL) leaves the build's default in place.
 */
export function applyCacheBudget(raw: Database.Database, cacheSizeKiB: number): void {
  if (cacheSizeKiB === BUILD_CACHE_KIB) return
  try {
    raw.pragma(`cache_size = -${Math.floor(cacheSizeKiB)}`)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (typeof code !== 'string' || !code.startsWith('SQLITE_BUSY')) throw error
  }
}

interface Tracked {
  used: boolean
  shrunk: boolean
}

/**
 * Gives idle connections' page caches back. A scope entry costs one property write; a timer
 * (unref'd: it never keeps the process alive) finds the connections nobody touched since its
 * last round and shrinks each once. A tight loop of opens never lets the timer fire, so every
 * `sweepEveryOpens` opens also run a round.
 */
export class IdleShrinker {
  private readonly tracked = new Map<Database.Database, Tracked>()
  private timer: NodeJS.Timeout | undefined
  private opens = 0

  constructor(
    private readonly periodMs: number,
    private readonly sweepEveryOpens = Number.POSITIVE_INFINITY,
  ) {}

  /** Counts one connection open; every `sweepEveryOpens`th runs a round. */
  opened(): void {
    if (this.periodMs <= 0) return
    if (++this.opens >= this.sweepEveryOpens) {
      this.opens = 0
      this.sweep()
    }
  }

  /** Starts watching a connection; returns the function every scope entry on it calls. */
  watch(raw: Database.Database): () => void {
    if (this.periodMs <= 0) return () => {}
    const t: Tracked = { used: true, shrunk: false }
    this.tracked.set(raw, t)
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(), this.periodMs)
      this.timer.unref()
    }
    return () => {
      t.used = true
      t.shrunk = false
    }
  }

  /** Stops watching a connection (before it closes). */
  forget(raw: Database.Database): void {
    this.tracked.delete(raw)
    if (this.tracked.size === 0) this.stop()
  }

  /** One round: shrinks every open connection unused since the previous round. */
  sweep(): void {
    for (const [raw, t] of this.tracked) {
      if (t.used) t.used = false
      else if (!t.shrunk && raw.open) {
        t.shrunk = true
        try {
          raw.pragma('shrink_memory')
        } catch {
          // Busy with a streaming statement: it is not idle after all; next round.
          t.shrunk = false
        }
      }
    }
  }

  /** Stops the timer (store close). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}
