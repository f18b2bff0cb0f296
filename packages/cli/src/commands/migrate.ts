import type { MigrationProgress, TenantMigrationResult, TenantStore } from '@tenantry/kysely'
import cliProgress from 'cli-progress'
import type { Command } from 'commander'
import type { CliIO } from '../cli.js'
import { EXIT, messageOf } from '../errors.js'
import { printMigrationStatus } from './migrations.js'
import {
  type CommandContext,
  eachTenant,
  plural,
  positiveInt,
  reportFailures,
  type Selection,
  selectTenants,
  tenantList,
} from './shared.js'

/** `tenantry migrate [name] [--all|--tenants a,b] [--status]`. */
export function registerMigrateCommand(program: Command, ctx: CommandContext): void {
  const { io } = ctx
  const out = (s: string) => io.stdout.write(s)
  program
    .command('migrate')
    .description(
      'apply pending migrations to one tenant, --all or --tenants a,b; --status shows them',
    )
    .argument('[name]', 'tenant name')
    .option('-a, --all', 'every tenant')
    .option('--tenants <names>', 'these tenants (comma-separated)', tenantList)
    .option('--status', 'show applied and pending migrations instead (exit 7 when any is pending)')
    // No default here: --all leaves it to the store (worker threads, one per core, when the
    // store has a migrationsModule; 4 in-thread lanes otherwise).
    .option('--concurrency <n>', "tenants migrated at once (default: the store's)", positiveInt)
    .option('--json', 'print the results as JSON')
    .action(
      async (
        name: string | undefined,
        opts: Selection & { status?: boolean; concurrency?: number; json?: boolean },
      ) => {
        const store = await ctx.store()
        const selected = await selectTenants(store, name, opts, 'migrate')
        if (opts.status) return await printMigrationStatus(ctx, selected, opts.json === true)
        if (name !== undefined) {
          const result = await store.migrateTenant(name)
          out(opts.json ? `${JSON.stringify(jsonResult(result))}\n` : `${describeResult(result)}\n`)
          return
        }
        const results = opts.all
          ? await migrateAll(store, io, opts)
          : await migrateSome(store, io, selected, opts)
        if (results.some((r) => r.error !== undefined)) ctx.exit(EXIT.MIGRATION_FAILED)
      },
    )
}

/** `--tenants a,b`: the same report as `--all`, for the tenants named. */
async function migrateSome(
  store: TenantStore,
  io: CliIO,
  tenants: string[],
  opts: { concurrency?: number; json?: boolean },
): Promise<TenantMigrationResult[]> {
  const outcomes = await eachTenant(
    io,
    tenants,
    {
      concurrency: opts.concurrency ?? 4,
      label: 'Migrating',
      quiet: opts.json,
      describe: (r: TenantMigrationResult) => describeResult(r).slice(r.tenant.length + 2),
    },
    (t) => store.migrateTenant(t),
  )
  const results = outcomes.map((o) => o.value ?? { tenant: o.tenant, applied: [], error: o.error })
  summarise(io, results, opts.json)
  reportFailures(io, outcomes)
  return results
}

/**
 * Migrates every tenant, reporting progress: a bar on stderr when it is a terminal, else one
 * plain line per tenant on stdout (unless `json`). Failures are listed on stderr at the end.
 */
async function migrateAll(
  store: TenantStore,
  io: CliIO,
  opts: { concurrency?: number; json?: boolean },
): Promise<TenantMigrationResult[]> {
  let bar: cliProgress.SingleBar | undefined
  const onProgress = (p: MigrationProgress): void => {
    if (opts.json) return
    if (io.stderr.isTTY) {
      if (bar === undefined) {
        bar = new cliProgress.SingleBar(
          {
            stream: io.stderr,
            format: 'Migrating |{bar}| {value}/{total} tenants | {tenant}',
            hideCursor: true,
            clearOnComplete: false,
          },
          cliProgress.Presets.shades_classic,
        )
        bar.start(p.total, 0, { tenant: '' })
      }
      bar.update(p.done, { tenant: p.result.tenant })
    } else {
      io.stdout.write(`[${p.done}/${p.total}] ${describeResult(p.result)}\n`)
    }
  }
  let results: TenantMigrationResult[]
  try {
    results = await store.migrateAllTenants({
      ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }),
      onProgress,
    })
  } finally {
    bar?.stop()
  }
  summarise(io, results, opts.json)
  for (const r of results)
    if (r.error !== undefined) io.stderr.write(`tenantry: ${r.tenant}: ${messageOf(r.error)}\n`)
  return results
}

function summarise(io: CliIO, results: TenantMigrationResult[], json: boolean | undefined): void {
  const failed = results.filter((r) => r.error !== undefined)
  if (json) {
    io.stdout.write(`${JSON.stringify(results.map(jsonResult))}\n`)
    return
  }
  const migrated = results.filter((r) => r.error === undefined && r.applied.length > 0).length
  const current = results.length - migrated - failed.length
  io.stdout.write(
    `${plural(results.length, 'tenant')}: ${migrated} migrated, ${current} up to date, ${failed.length} failed.\n`,
  )
}

function describeResult(r: TenantMigrationResult): string {
  if (r.error !== undefined) return `${r.tenant}: FAILED: ${messageOf(r.error)}`
  if (r.applied.length === 0) return `${r.tenant}: up to date`
  return `${r.tenant}: applied ${r.applied.join(', ')}`
}

function jsonResult(r: TenantMigrationResult): {
  tenant: string
  applied: string[]
  error?: string
} {
  return r.error === undefined
    ? { tenant: r.tenant, applied: r.applied }
    : { tenant: r.tenant, applied: r.applied, error: messageOf(r.error) }
}
