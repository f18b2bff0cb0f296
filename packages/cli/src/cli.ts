import { createInterface } from 'node:readline/promises'
import type { Readable, Writable } from 'node:stream'
import type {
  MigrationProgress,
  TenantInfo,
  TenantMigrationResult,
  TenantStore,
} from '@tenantry/kysely'
import cliProgress from 'cli-progress'
import { Command, CommanderError, InvalidArgumentError } from 'commander'
import { registerDoctorCommand } from './commands/doctor.js'
import { findConfig, loadConfig } from './config.js'
import { CliError, EXIT, exitCodeOf, messageOf } from './errors.js'

/** A writable stream that may be a terminal. */
export type OutStream = Writable & { isTTY?: boolean }
/** A readable stream that may be a terminal. */
export type InStream = Readable & { isTTY?: boolean }

/** Where the CLI reads and writes; every field defaults to the process's own. */
export interface CliIO {
  stdout: OutStream
  stderr: OutStream
  stdin: InStream
  /** Where `tenantry.config.ts` is looked for. */
  cwd: string
  /** Loads the store instead of reading a config file (tests, embedding). */
  loadStore?: ((configPath: string | undefined) => Promise<TenantStore>) | undefined
}

interface Ctx {
  io: CliIO
  store(): Promise<TenantStore>
}

/**
 * Runs the `tenantry` command with `argv` (the arguments after the program name) and resolves
 * to its exit code (see `EXIT`); never calls `process.exit`. Errors are printed to stderr as
 * one line. The store is closed before it resolves.
 */
export async function run(argv: readonly string[], io: Partial<CliIO> = {}): Promise<number> {
  const full: CliIO = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stdin: io.stdin ?? process.stdin,
    cwd: io.cwd ?? process.cwd(),
    loadStore: io.loadStore,
  }
  let store: Promise<TenantStore> | undefined
  let configPath: string | undefined
  const ctx: Ctx = {
    io: full,
    store: () => {
      store ??= full.loadStore
        ? full.loadStore(configPath)
        : loadConfig(findConfig(full.cwd, configPath))
      return store
    },
  }
  const program = buildProgram(ctx)
  program.hook('preAction', (cmd) => {
    configPath = cmd.optsWithGlobals<{ config?: string }>().config
  })
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return codes.get(program) ?? EXIT.OK
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE // commander already printed it
    full.stderr.write(`tenantry: ${messageOf(error)}\n`)
    return exitCodeOf(error)
  } finally {
    if (store !== undefined) await store.then((s) => s.close()).catch(() => {})
  }
}

/** Exit codes set by actions that finish normally but must not report success. */
const codes = new WeakMap<Command, number>()

function buildProgram(ctx: Ctx): Command {
  const { io } = ctx
  const out = (s: string) => io.stdout.write(s)
  const program = new Command('tenantry')
    .description('Manage the tenants of a tenantry application.')
    .option('-c, --config <path>', 'config file (default: ./tenantry.config.ts, .mts, .js or .mjs)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError('(run "tenantry --help" for usage)')
    .allowExcessArguments(false)

  program
    .command('list')
    .description('list the tenants, one per line')
    .option('--json', 'print a JSON array')
    .action(async (opts: { json?: boolean }) => {
      const tenants = await (await ctx.store()).list()
      if (opts.json) out(`${JSON.stringify(tenants)}\n`)
      else if (tenants.length === 0) io.stderr.write('No tenants.\n')
      else out(tenants.map((t) => `${t}\n`).join(''))
    })

  program
    .command('create')
    .description('create a tenant and apply every migration')
    .argument('<name>', 'tenant name')
    .option('--json', 'print the new tenant as JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const store = await ctx.store()
      await store.createTenant(name)
      const info = await store.tenantInfo(name)
      if (opts.json) out(`${JSON.stringify(info)}\n`)
      else
        out(
          `Created tenant "${name}" at ${info.location} (${plural(info.migrations.length, 'migration')} applied).\n`,
        )
    })

  program
    .command('destroy')
    .description('delete a tenant and all its data (asks for confirmation)')
    .argument('<name>', 'tenant name')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, opts: { yes?: boolean }) => {
      const store = await ctx.store()
      if (!(await store.exists(name)))
        throw new CliError('TENANTRY_UNKNOWN_TENANT', EXIT.UNKNOWN_TENANT, unknown(name))
      if (!opts.yes) await confirm(io, name)
      await store.destroyTenant(name)
      out(`Destroyed tenant "${name}".\n`)
    })

  program
    .command('migrate')
    .description('apply pending migrations to one tenant, or to all with --all')
    .argument('[name]', 'tenant name')
    .option('-a, --all', 'migrate every tenant')
    .option('--concurrency <n>', 'tenants migrated at once with --all', positiveInt, 4)
    .option('--json', 'print the results as JSON')
    .action(
      async (
        name: string | undefined,
        opts: { all?: boolean; concurrency: number; json?: boolean },
      ) => {
        if ((name === undefined) === !opts.all)
          throw new CliError(
            'TENANTRY_CLI_USAGE',
            EXIT.USAGE,
            name === undefined
              ? 'migrate needs a tenant name or --all.'
              : 'migrate takes a tenant name or --all, not both.',
          )
        const store = await ctx.store()
        if (name !== undefined) {
          const result = await store.migrateTenant(name)
          out(opts.json ? `${JSON.stringify(jsonResult(result))}\n` : `${describeResult(result)}\n`)
          return
        }
        const results = await migrateAll(store, io, opts)
        if (results.some((r) => r.error !== undefined)) codes.set(program, EXIT.MIGRATION_FAILED)
      },
    )

  program
    .command('info')
    .description('where a tenant lives, its size, applied and pending migrations')
    .argument('<name>', 'tenant name')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const store = await ctx.store()
      if (!(await store.exists(name)))
        throw new CliError('TENANTRY_UNKNOWN_TENANT', EXIT.UNKNOWN_TENANT, unknown(name))
      const info = await store.tenantInfo(name)
      out(opts.json ? `${JSON.stringify(info)}\n` : formatInfo(info))
    })

  registerDoctorCommand(program, { io, store: ctx.store, exit: (c) => codes.set(program, c) })
  return program
}

/**
 * Migrates every tenant, reporting progress: a bar on stderr when it is a terminal, else one
 * plain line per tenant on stdout (unless `json`). Failures are listed on stderr at the end.
 */
async function migrateAll(
  store: TenantStore,
  io: CliIO,
  opts: { concurrency: number; json?: boolean },
): Promise<TenantMigrationResult[]> {
  const out = (s: string) => io.stdout.write(s)
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
      out(`[${p.done}/${p.total}] ${describeResult(p.result)}\n`)
    }
  }
  let results: TenantMigrationResult[]
  try {
    results = await store.migrateAllTenants({ concurrency: opts.concurrency, onProgress })
  } finally {
    bar?.stop()
  }
  const failed = results.filter((r) => r.error !== undefined)
  if (opts.json) {
    out(`${JSON.stringify(results.map(jsonResult))}\n`)
  } else {
    const migrated = results.filter((r) => r.error === undefined && r.applied.length > 0).length
    const current = results.length - migrated - failed.length
    out(
      `${plural(results.length, 'tenant')}: ${migrated} migrated, ${current} up to date, ${failed.length} failed.\n`,
    )
  }
  for (const r of failed) io.stderr.write(`tenantry: ${r.tenant}: ${messageOf(r.error)}\n`)
  return results
}

async function confirm(io: CliIO, name: string): Promise<void> {
  if (!io.stdin.isTTY)
    throw new CliError(
      'TENANTRY_CLI_USAGE',
      EXIT.USAGE,
      `Refusing to destroy "${name}" without confirmation: stdin is not a terminal. Pass --yes to confirm.`,
    )
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: false })
  // End of input (Ctrl-D) closes the interface without settling the question: treat it as no.
  const closed = new Promise<undefined>((done) => rl.once('close', () => done(undefined)))
  try {
    const answer = await Promise.race([
      rl.question(
        `Destroy tenant "${name}" and all its data? This cannot be undone.\nType the tenant name to confirm: `,
      ),
      closed,
    ])
    if (answer?.trim() !== name)
      throw new CliError(
        'TENANTRY_CLI_ABORTED',
        EXIT.ABORTED,
        `Aborted: "${name}" was not destroyed.`,
      )
  } finally {
    rl.close()
  }
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

function formatInfo(info: TenantInfo): string {
  const rows: [string, string][] = [
    ['tenant', info.tenant],
    ['location', info.location],
    ['size', info.size === undefined ? 'unknown' : formatBytes(info.size)],
    ['migrations', `${info.migrations.length} applied, ${info.pending.length} pending`],
    ['applied', info.migrations.join(', ') || '-'],
    ['pending', info.pending.join(', ') || '-'],
  ]
  return rows.map(([k, v]) => `${`${k}:`.padEnd(12)}${v}\n`).join('')
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(1)} ${units[i]} (${n} bytes)`
}

function positiveInt(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError('expected a whole number of at least 1.')
  return n
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function unknown(name: string): string {
  return `Unknown tenant "${name}". Run "tenantry list" to see the tenants, or "tenantry create ${name}".`
}
