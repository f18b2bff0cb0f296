/**
 * @tenantry/cli — the `tenantry` command for operators (list, create, destroy, migrate, info),
 * and the functions behind it, usable without spawning a process.
 */
export { type CliIO, type InStream, type OutStream, run } from './cli.js'
export {
  CONFIG_FILES,
  type ConfigExport,
  defineConfig,
  findConfig,
  type LoadConfigOptions,
  loadConfig,
  type TenantryConfig,
} from './config.js'
export { CliError, EXIT, type ExitCode, exitCodeOf, messageOf } from './errors.js'
