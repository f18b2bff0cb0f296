import { isAbsolute, relative, resolve } from 'node:path'
import { findPartialBackups, type TenantStore } from '@tenantry/kysely'
import type { Command } from 'commander'
import type { CliIO } from '../cli.js'
import { CliError, EXIT, type ExitCode } from '../errors.js'

/** One finding of a store's `repair()` (see `@tenantry/sqlite`'s `RepairFinding`). */
export interface DoctorFinding {
  kind: string
  tenant?: string
  path: string
  detail: string
  fixed: boolean
}

/** A store that can look for (and fix) the debris of crashes. */
export interface RepairableStore extends TenantStore {
  repair?(options?: { fix?: boolean }): Promise<DoctorFinding[]>
  listDeleted?(): Promise<{ tenant: string; purgeAt: Date }[]>
  purgeExpired?(): Promise<{ tenant: string; error?: unknown }[]>
}

/** What the doctor command needs from the CLI. */
export interface DoctorContext {
  io: CliIO
  store(): Promise<RepairableStore>
  /** Sets the exit code of a command that finished but must not report success. */
  exit(code: ExitCode): void
}

/**
 * `tenantry doctor [--fix] [--json] [--backups DIR]`: lists orphan lock and `.creating` files,
 * half-made tenants, leftovers of killed restores and soft deletes, links and files that are
 * no tenant, stamps that disagree, soft-deleted tenants past their grace and (with
 * `--backups`) half-written backups of dead writers; `--fix` repairs what is safe to repair
 * and purges what is due. Exits 1 when something is left unfixed.
 */
export function registerDoctorCommand(program: Command, ctx: DoctorContext): void {
  const out = (s: string) => ctx.io.stdout.write(s)
  program
    .command('doctor')
    .description('find the debris of crashed processes and files that are no tenant; --fix repairs')
    .option('--fix', 'repair what can be repaired safely (under each tenant lock)')
    .option('--json', 'print the findings as JSON')
    .option('--backups <dir>', 'also look for half-written backups (.partial-*) in this folder')
    .action(async (opts: { fix?: boolean; json?: boolean; backups?: string }) => {
      const store = await ctx.store()
      if (typeof store.repair !== 'function' && typeof store.listDeleted !== 'function')
        throw new CliError(
          'TENANTRY_CLI_USAGE',
          EXIT.USAGE,
          'This store has no repair(): doctor needs a tenantry SQLite or PostgreSQL store.',
        )
      const fix = opts.fix === true
      const findings = (await store.repair?.({ fix })) ?? []
      findings.push(...(await expired(store, fix)))
      if (opts.backups !== undefined) {
        const dir = isAbsolute(opts.backups) ? opts.backups : resolve(ctx.io.cwd, opts.backups)
        for (const p of await findPartialBackups(dir, { fix }))
          findings.push({
            kind: 'partial-backup',
            path: relative(ctx.io.cwd, p.path),
            detail: `a backup whose writer${p.pid === undefined ? '' : ` (pid ${p.pid})`} died before it was complete`,
            fixed: p.fixed,
          })
      }
      const left = findings.filter((f) => !f.fixed)
      if (opts.json) out(`${JSON.stringify(findings)}\n`)
      else {
        for (const f of findings)
          out(`${f.fixed ? 'fixed' : 'found'}  ${f.kind}  ${f.path}: ${f.detail}\n`)
        const fixed = findings.length - left.length
        out(
          findings.length === 0
            ? 'No problems found.\n'
            : `${findings.length} finding(s): ${fixed} fixed, ${left.length} left${opts.fix || left.length === 0 ? '' : ' (run with --fix to repair what is safe)'}.\n`,
        )
      }
      if (left.length > 0) ctx.exit(EXIT.FAILURE)
    })
}

/** Soft-deleted tenants past their grace (`deleted-expired`); `fix` purges them. */
async function expired(store: RepairableStore, fix: boolean): Promise<DoctorFinding[]> {
  if (typeof store.listDeleted !== 'function') return []
  const now = Date.now()
  const due = (await store.listDeleted()).filter((d) => d.purgeAt.getTime() <= now)
  const failed = new Map<string, unknown>()
  if (fix && due.length > 0 && typeof store.purgeExpired === 'function')
    for (const r of await store.purgeExpired())
      if (r.error !== undefined) failed.set(r.tenant, r.error)
  return due.map((d) => ({
    kind: 'deleted-expired',
    tenant: d.tenant,
    path: d.tenant,
    detail: `soft-deleted, its grace ended at ${d.purgeAt.toISOString()}${failed.has(d.tenant) ? `; the purge failed: ${String((failed.get(d.tenant) as Error)?.message ?? failed.get(d.tenant))}` : ''}`,
    fixed: fix && !failed.has(d.tenant) && typeof store.purgeExpired === 'function',
  }))
}
