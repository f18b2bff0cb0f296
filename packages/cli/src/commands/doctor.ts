import type { TenantStore } from '@tenantry/kysely'
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
}

/** What the doctor command needs from the CLI. */
export interface DoctorContext {
  io: CliIO
  store(): Promise<RepairableStore>
  /** Sets the exit code of a command that finished but must not report success. */
  exit(code: ExitCode): void
}

/**
 * `tenantry doctor [--fix] [--json]`: lists orphan lock and `.creating` files, half-made
 * tenants, links and files that are no tenant, and stamps that disagree; `--fix` repairs what
 * is safe to repair. Exits 1 when something is left unfixed.
 */
export function registerDoctorCommand(program: Command, ctx: DoctorContext): void {
  const out = (s: string) => ctx.io.stdout.write(s)
  program
    .command('doctor')
    .description('find the debris of crashed processes and files that are no tenant; --fix repairs')
    .option('--fix', 'repair what can be repaired safely (under each tenant lock)')
    .option('--json', 'print the findings as JSON')
    .action(async (opts: { fix?: boolean; json?: boolean }) => {
      const store = await ctx.store()
      if (typeof store.repair !== 'function')
        throw new CliError(
          'TENANTRY_CLI_USAGE',
          EXIT.USAGE,
          'This store has no repair(): doctor needs a tenantry SQLite store.',
        )
      const findings = await store.repair({ fix: opts.fix === true })
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
