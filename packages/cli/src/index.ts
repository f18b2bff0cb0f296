/**
 * @tenantry/cli — the `tenantry` command for operators (tenants, migrations, backups, archives,
 * scripts, a console),
 * and the functions behind it, usable without spawning a process.
 */
export { type CliIO, type InStream, type OutStream, run } from './cli.js'
export type { RunScript } from './commands/run.js'
export type { OperationsStore } from './commands/shared.js'
export {
  CONFIG_FILES,
  type ConfigExport,
  defineConfig,
  findConfig,
  type LoadConfigOptions,
  loadAppConfig,
  loadConfig,
  type TenantryConfig,
} from './config.js'
export { CliError, EXIT, type ExitCode, exitCodeOf, messageOf } from './errors.js'
