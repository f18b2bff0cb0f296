import { readFileSync } from 'node:fs'
import type { Readable, Writable } from 'node:stream'
import type { TenantStore } from '@tenantry/kysely'
import { Command, CommanderError } from 'commander'
import { registerArchiveCommands } from './commands/archive.js'
import { registerBackupCommands } from './commands/backup.js'
import { registerConsoleCommand } from './commands/console.js'
import { registerDoctorCommand } from './commands/doctor.js'
import { registerMigrateCommand } from './commands/migrate.js'
import { registerMigrationCommands } from './commands/migrations.js'
import { registerRunCommand } from './commands/run.js'
import type { CommandContext, OperationsStore, Seed } from './commands/shared.js'
import { registerTenantCommands } from './commands/tenants.js'
import { findConfig, loadAppConfig } from './config.js'
import { EXIT, exitCodeOf, messageOf } from './errors.js'

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

/**
 * Every command, one registration each (a new command is one file in `commands/` and one line
 * here). The CLI only parses, prints and sets exit codes: the work is the store's.
 */
const COMMANDS: ((program: Command, ctx: CommandContext) => void)[] = [
  registerTenantCommands,
  registerMigrateCommand,
  registerMigrationCommands,
  registerBackupCommands,
  registerArchiveCommands,
  registerRunCommand,
  registerConsoleCommand,
  registerDoctorCommand,
]

/**
 * Runs the `tenantry` command with `argv` (the arguments after the program name) and resolves
 * to its exit code (see `EXIT`); never calls `process.exit`. Every error is printed to stderr
 * as one line starting `tenantry:`. The store is closed before it resolves.
 */
export async function run(argv: readonly string[], io: Partial<CliIO> = {}): Promise<number> {
  const full: CliIO = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stdin: io.stdin ?? process.stdin,
    cwd: io.cwd ?? process.cwd(),
    loadStore: io.loadStore,
  }
  let config: Promise<{ store: TenantStore; seeds: Record<string, Seed> }> | undefined
  let configPath: string | undefined
  let exitCode: number = EXIT.OK
  const load = () => {
    config ??= full.loadStore
      ? full.loadStore(configPath).then((store) => ({ store, seeds: {} }))
      : loadAppConfig(findConfig(full.cwd, configPath))
    return config
  }
  const ctx: CommandContext = {
    io: full,
    store: async () => (await load()).store as OperationsStore,
    seeds: async () => (await load()).seeds,
    exit: (code) => {
      exitCode = code
    },
  }
  const program = new Command('tenantry')
    .description('Manage the tenants of a tenantry application.')
    .version(version(), '-V, --version', 'print the version')
    .option('-c, --config <path>', 'config file (default: ./tenantry.config.ts, .mts, .js or .mjs)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => full.stdout.write(s),
      writeErr: (s) => full.stderr.write(s),
      // Commander's own errors, as one line like every other: "tenantry: unknown option ...".
      outputError: (s, write) =>
        write(`tenantry: ${s.replace(/^error: /, '').trim()} (run "tenantry --help" for usage)\n`),
    })
    .allowExcessArguments(false)
  for (const register of COMMANDS) register(program, ctx)
  program.hook('preAction', (cmd) => {
    configPath = cmd.optsWithGlobals<{ config?: string }>().config
  })
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return exitCode
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE // already printed
    full.stderr.write(`tenantry: ${oneLine(messageOf(error))}\n`)
    return exitCodeOf(error)
  } finally {
    if (config !== undefined) await config.then((c) => c.store.close()).catch(() => {})
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ')
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}
