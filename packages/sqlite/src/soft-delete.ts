import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { UnknownTenantError } from '@tenantry/context'
import {
  type DeletedTenant,
  GraceExpiredError,
  type SoftDeleteBackend,
  TenantDeletedError,
  TenantNotDeletedError,
} from '@tenantry/kysely'
import { fsyncPath } from './files.js'
import { Layout } from './layout.js'
import { unlinkQuiet } from './lock.js'

/** The tombstone that soft-deletes the tenant whose database is `file`. */
export function tombstoneFile(file: string): string {
  return `${file}.deleted`
}

/** Where a tombstone is written before the rename that makes it count. */
export function tombstoneTemp(file: string): string {
  return `${file}.deleting`
}

/** What the SQLite soft deletes need from their store. */
export interface SqliteSoftDeleteContext {
  layout: Layout
  bucketing: boolean | { chars?: number } | undefined
  validate(tenant: string): unknown
  /** The tenant's database file (validated, no links on the way). */
  file(tenant: string): string
  /** Runs `fn` under the tenant's create/migrate/destroy lock. */
  locked<R>(tenant: string, file: string, fn: () => Promise<R>): Promise<R>
  /** The store's hard destroy (it removes the tombstone with the other siblings). */
  destroy(tenant: string): Promise<void>
  /** Emits `destroyed` (a purge whose database was already gone). */
  destroyed(tenant: string): Promise<void>
}

/**
 * Soft deletes on disk: a tombstone file `<db>.deleted` beside the database (JSON: when, until
 * when), written as `<db>.deleting` and renamed into place under the tenant's lock. One rename
 * hides the tenant from every process and one unlink shows it again, so a crash (kill -9)
 * leaves it either visible or hidden, never half. The database is not touched until the purge.
 */
export class SqliteSoftDeletes implements SoftDeleteBackend {
  /** The tombstones' own layout: the tenant template with `.deleted` appended, for listing. */
  private readonly tombs: Layout

  constructor(private readonly ctx: SqliteSoftDeleteContext) {
    this.tombs = new Layout(ctx.layout.root, `${ctx.layout.template}.deleted`, ctx.bucketing)
  }

  /** True when the tenant whose database is `file` is soft-deleted (one `stat`). */
  held(file: string): boolean {
    return existsSync(tombstoneFile(file))
  }

  /** `TenantDeletedError` when a soft delete holds the name of the tenant at `file`. */
  refuse(tenant: string, file: string): void {
    const d = read(tombstoneFile(file), tenant)
    if (d !== undefined) throw new TenantDeletedError(tenant, d.purgeAt)
  }

  async mark(tenant: string, deleted: DeletedTenant): Promise<void> {
    const file = this.ctx.file(tenant)
    await this.ctx.locked(tenant, file, async () => {
      if (!existsSync(file) || this.held(file)) throw new UnknownTenantError(tenant)
      const tmp = tombstoneTemp(file)
      writeFileSync(
        tmp,
        JSON.stringify({
          tenant,
          deletedAt: deleted.deletedAt.toISOString(),
          purgeAt: deleted.purgeAt.toISOString(),
        }),
        { mode: 0o600 },
      )
      fsyncPath(tmp)
      renameSync(tmp, tombstoneFile(file)) // the one step that hides it everywhere
      fsyncPath(dirname(file))
    })
  }

  async unmark(tenant: string, check: (deleted: DeletedTenant) => void): Promise<void> {
    const file = this.ctx.file(tenant)
    await this.ctx.locked(tenant, file, async () => {
      const d = read(tombstoneFile(file), tenant)
      if (d === undefined) {
        if (existsSync(file)) throw new TenantNotDeletedError(tenant)
        throw new UnknownTenantError(tenant)
      }
      check(d)
      // A purge that died after removing the database: nothing is left to bring back.
      if (!existsSync(file)) throw new GraceExpiredError(tenant, d.purgeAt)
      unlinkQuiet(tombstoneFile(file))
      fsyncPath(dirname(file))
    })
  }

  async get(tenant: string): Promise<DeletedTenant | undefined> {
    return read(tombstoneFile(this.ctx.file(tenant)), tenant)
  }

  async list(): Promise<DeletedTenant[]> {
    const names = await this.tombs.list((t) => this.ctx.validate(t))
    const out: DeletedTenant[] = []
    for (const t of names) {
      const d = read(this.tombs.file(t), t)
      if (d !== undefined) out.push(d)
    }
    return out
  }

  async purge(tenant: string): Promise<void> {
    const file = this.ctx.file(tenant)
    if (existsSync(file)) return await this.ctx.destroy(tenant)
    // The database went with an earlier purge that died before its tombstone did.
    await this.ctx.locked(tenant, file, async () => {
      if (!this.held(file) || existsSync(file)) return
      await this.ctx.destroyed(tenant)
      unlinkQuiet(tombstoneFile(file))
    })
  }
}

/** The tombstone at `path`, or undefined; one that cannot be read still hides its tenant. */
function read(path: string, tenant: string): DeletedTenant | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
  try {
    const j = JSON.parse(text) as { deletedAt: string; purgeAt: string }
    const deletedAt = new Date(j.deletedAt)
    const purgeAt = new Date(j.purgeAt)
    if (!Number.isNaN(deletedAt.getTime()) && !Number.isNaN(purgeAt.getTime()))
      return { tenant, deletedAt, purgeAt }
  } catch {
    // Damaged by hand: fall through.
  }
  // Damaged (by hand): the tenant stays hidden but is never purged automatically; undo it, or
  // destroy it explicitly.
  return { tenant, deletedAt: new Date(0), purgeAt: new Date(8.64e15) }
}
