import type { Readable, Writable } from 'node:stream'
import type { Seed, TenantStore } from '@tenantry/kysely'
import cliProgress from 'cli-progress'
import { InvalidArgumentError } from 'commander'
import type { CliIO } from '../cli.js'
import { CliError, EXIT, type ExitCode, messageOf } from '../errors.js'

export type { Seed } from '@tenantry/kysely'

/** The store operations the commands use beyond `TenantStore` (a tenantry store has them). */
export interface OperationsStore extends TenantStore {
  backupTenant?(tenant: string, dest: string | Writable): Promise<unknown>
  backupTenantToDir?(
    tenant: string,
    dir: string,
    options?: { keep?: number | undefined },
  ): Promise<string>
  restoreTenant?(
    source: string | Readable,
    options?: { as?: string | undefined; force?: boolean | undefined },
  ): Promise<{ tenant: string; manifest: { tenant: string; backend: string } }>
  exportTenant?(tenant: string, out: Writable): Promise<unknown>
  cloneTenant?(
    from: string,
    to: string,
    options?: { force?: boolean | undefined },
  ): Promise<unknown>
  purgeTenant?(tenant: string): Promise<void>
  undestroyTenant?(tenant: string): Promise<void>
  listDeleted?(): Promise<{ tenant: string; deletedAt: Date; purgeAt: Date }[]>
  purgeExpired?(): Promise<{ tenant: string; purgeAt: Date; error?: unknown }[]>
  rollbackTenant?(tenant: string, options?: { steps?: number }): Promise<{ rolledBack: string[] }>
  seedTenant?(tenant: string, seeds: Record<string, Seed>): Promise<string[]>
  install?(): unknown
  /** Runs `fn` inside `tenant` in the store's tenancy (getters available). */
  inTenant?<R>(tenant: string, fn: () => R | PromiseLike<R>): Promise<Awaited<R>>
  withEachTenant?<R>(
    fn: (tenant: string) => R | PromiseLike<R>,
    options?: { concurrency?: number },
  ): Promise<Awaited<R>[]>
}

/** What every command gets: the streams, the store (loaded on first use), the exit code. */
export interface CommandContext {
  io: CliIO
  store(): Promise<OperationsStore>
  /** The config's `seeds` (empty when it has none). */
  seeds(): Promise<Record<string, Seed>>
  /** Sets the exit code of a command that finished but must not report success. */
  exit(code: ExitCode): void
}

/** The store's `name` operation, or a one-line error saying the store has none. */
export function op<K extends keyof OperationsStore>(
  store: OperationsStore,
  name: K,
  what: string,
): NonNullable<OperationsStore[K]> {
  const fn = store[name]
  if (typeof fn !== 'function')
    throw new CliError(
      'TENANTRY_CLI_USAGE',
      EXIT.USAGE,
      `This store cannot ${what}: update @tenantry/sqlite or @tenantry/postgres.`,
    )
  return (fn as (...a: unknown[]) => unknown).bind(store) as NonNullable<OperationsStore[K]>
}

/** Options every multi-tenant command shares. */
export interface Selection {
  all?: boolean
  tenants?: string[]
}

/** Parses `--tenants a,b,c`. */
export function tenantList(value: string): string[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  if (list.length === 0) throw new InvalidArgumentError('expected names separated by commas.')
  return list
}

/**
 * The tenants a command acts on: the one named, every tenant (`--all`), or those listed
 * (`--tenants a,b`, each checked to exist). Exactly one of the three.
 */
export async function selectTenants(
  store: TenantStore,
  name: string | undefined,
  sel: Selection,
  command: string,
): Promise<string[]> {
  const given = [name !== undefined, sel.all === true, sel.tenants !== undefined].filter(Boolean)
  if (given.length !== 1)
    throw new CliError(
      'TENANTRY_CLI_USAGE',
      EXIT.USAGE,
      given.length === 0
        ? `${command} needs a tenant name, --all or --tenants a,b.`
        : `${command} takes one of a tenant name, --all or --tenants a,b.`,
    )
  if (sel.all) return await store.list()
  const list = name !== undefined ? [name] : sel.tenants!
  for (const t of list)
    if (!(await store.exists(t)))
      throw new CliError('TENANTRY_UNKNOWN_TENANT', EXIT.UNKNOWN_TENANT, unknownTenant(t))
  return list
}

/** One tenant's outcome in a multi-tenant command. */
export interface TenantOutcome<R> {
  tenant: string
  value?: R
  error?: unknown
}

/**
 * Runs `fn` for each tenant, `concurrency` at once; one failure does not stop the others.
 * Progress: a bar on stderr when it is a terminal, else one line per tenant on stdout
 * (`describe` says what happened), nothing with `quiet` (JSON output).
 */
export async function eachTenant<R>(
  io: CliIO,
  tenants: readonly string[],
  options: {
    concurrency: number
    label: string
    quiet?: boolean | undefined
    describe: (r: R) => string
  },
  fn: (tenant: string) => Promise<R>,
): Promise<TenantOutcome<R>[]> {
  const out: TenantOutcome<R>[] = new Array(tenants.length)
  let bar: cliProgress.SingleBar | undefined
  if (!options.quiet && io.stderr.isTTY && tenants.length > 0) {
    bar = new cliProgress.SingleBar(
      {
        stream: io.stderr,
        format: `${options.label} |{bar}| {value}/{total} tenants | {tenant}`,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    )
    bar.start(tenants.length, 0, { tenant: '' })
  }
  let next = 0
  let done = 0
  const worker = async () => {
    while (next < tenants.length) {
      const i = next++
      const tenant = tenants[i]!
      try {
        out[i] = { tenant, value: await fn(tenant) }
      } catch (error) {
        out[i] = { tenant, error }
      }
      done++
      const r = out[i]!
      if (bar !== undefined) bar.update(done, { tenant })
      else if (!options.quiet)
        io.stdout.write(
          `[${done}/${tenants.length}] ${tenant}: ${r.error === undefined ? options.describe(r.value as R) : `FAILED: ${messageOf(r.error)}`}\n`,
        )
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, tenants.length) }, worker))
  } finally {
    bar?.stop()
  }
  return out
}

/** Prints the failures of a multi-tenant run on stderr, one line each; true when there were any. */
export function reportFailures(io: CliIO, outcomes: readonly TenantOutcome<unknown>[]): boolean {
  const failed = outcomes.filter((o) => o.error !== undefined)
  for (const f of failed) io.stderr.write(`tenantry: ${f.tenant}: ${messageOf(f.error)}\n`)
  return failed.length > 0
}

/** `--concurrency <n>`: a whole number of at least 1. */
export function positiveInt(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError('expected a whole number of at least 1.')
  return n
}

/** `n word(s)`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** The message for a tenant that does not exist. */
export function unknownTenant(name: string): string {
  return `Unknown tenant "${name}". Run "tenantry list" to see the tenants, or "tenantry create ${name}".`
}
