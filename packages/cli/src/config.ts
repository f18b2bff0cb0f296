import { existsSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Seed, TenantStore } from '@tenantry/kysely'
import { CliError, EXIT, messageOf } from './errors.js'

/** File names looked up in the working directory, in this order. */
export const CONFIG_FILES = [
  'tenantry.config.ts',
  'tenantry.config.mts',
  'tenantry.config.js',
  'tenantry.config.mjs',
] as const

/** The object form of a configuration; more options may be added next to `store`. */
export interface TenantryConfig {
  /** The app's tenant store, e.g. `createTenantDatabases({ root, migrations })`. */
  store: TenantStore
  /**
   * Seeds for `tenantry seed`, by name: each runs once per tenant, inside it (`getDb()` is the
   * tenant's, in a transaction), in name order, and is recorded in `tenantry_seeds`.
   */
  seeds?: Record<string, Seed>
}

/**
 * What `tenantry.config.ts` may export as default: a store, `{ store }`, or a function
 * (possibly async) returning either — so that nothing is opened until the CLI needs it.
 */
export type ConfigExport =
  | TenantStore
  | TenantryConfig
  | (() => TenantStore | TenantryConfig | Promise<TenantStore | TenantryConfig>)

/** Types a configuration file's default export: `export default defineConfig({ store })`. */
export function defineConfig<T extends ConfigExport>(config: T): T {
  return config
}

/** The config file: `explicit` (relative to `cwd`), else the first of {@link CONFIG_FILES}. */
export function findConfig(cwd: string, explicit?: string): string {
  if (explicit !== undefined) {
    const file = isAbsolute(explicit) ? explicit : resolve(cwd, explicit)
    if (!existsSync(file))
      throw new CliError('TENANTRY_CLI_CONFIG', EXIT.CONFIG, `Config file not found: ${file}.`)
    return file
  }
  for (const name of CONFIG_FILES) {
    const file = resolve(cwd, name)
    if (existsSync(file)) return file
  }
  throw new CliError(
    'TENANTRY_CLI_CONFIG',
    EXIT.CONFIG,
    `No tenantry.config.ts (or .mts, .js, .mjs) in ${cwd}. Create one whose default export is your TenantStore, or pass --config <path>.`,
  )
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /**
   * `'auto'` (default): Node's `import()`, then jiti when Node cannot load the file type;
   * `'native'` or `'jiti'` force one.
   */
  loader?: 'auto' | 'native' | 'jiti'
}

/**
 * Loads a config file and returns its store. Tries Node's own `import()` first (plain
 * JavaScript, or TypeScript when a loader such as tsx is active), then jiti, which compiles
 * TypeScript on the fly.
 */
export async function loadConfig(
  file: string,
  options: LoadConfigOptions = {},
): Promise<TenantStore> {
  return (await loadAppConfig(file, options)).store
}

/** Loads a config file as a whole: the store and the seeds (empty when it has none). */
export async function loadAppConfig(
  file: string,
  options: LoadConfigOptions = {},
): Promise<Required<TenantryConfig>> {
  let mod: { default?: unknown }
  try {
    mod = await importFile(file, options.loader ?? 'auto')
  } catch (error) {
    throw new CliError(
      'TENANTRY_CLI_CONFIG',
      EXIT.CONFIG,
      `Could not load ${file}: ${messageOf(error)}`,
      { cause: error },
    )
  }
  let value: unknown = mod.default ?? mod
  if (typeof value === 'function') value = await (value as () => unknown)()
  if (isStore(value)) return { store: value, seeds: {} }
  if (
    typeof value === 'object' &&
    value !== null &&
    isStore((value as { store?: unknown }).store)
  ) {
    const config = value as TenantryConfig
    return { store: config.store, seeds: config.seeds ?? {} }
  }
  throw new CliError(
    'TENANTRY_CLI_CONFIG',
    EXIT.CONFIG,
    `${file} must export default a TenantStore (e.g. createTenantDatabases({ root, migrations })) or { store }.`,
  )
}

/** Imports a module (TypeScript too: Node's loader, then jiti), as the config file is. */
export function importModule(file: string): Promise<{ default?: unknown }> {
  return importFile(file, 'auto')
}

async function importFile(
  file: string,
  loader: 'auto' | 'native' | 'jiti',
): Promise<{ default?: unknown }> {
  if (loader !== 'jiti')
    try {
      return (await import(pathToFileURL(file).href)) as { default?: unknown }
    } catch (error) {
      if (loader === 'native') throw error
      const code = (error as { code?: unknown }).code
      if (
        code !== 'ERR_UNKNOWN_FILE_EXTENSION' &&
        code !== 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING'
      )
        throw error
    }
  const { createJiti } = await import('jiti')
  const jiti = createJiti(import.meta.url, { moduleCache: false })
  return await jiti.import<{ default?: unknown }>(file)
}

function isStore(value: unknown): value is TenantStore {
  if (typeof value !== 'object' || value === null) return false
  const s = value as Record<string, unknown>
  return ['createTenant', 'destroyTenant', 'list', 'migrateTenant', 'tenantInfo'].every(
    (m) => typeof s[m] === 'function',
  )
}
