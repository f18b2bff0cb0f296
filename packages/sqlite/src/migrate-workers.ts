import { availableParallelism } from 'node:os'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { TenantryError, type TenantryErrorCode } from '@tenantry/context'
import {
  type MigrateAllOptions,
  MigrationFailedError,
  type TenantMigrationResult,
} from '@tenantry/kysely'
import type { BucketingOptions } from './layout.js'

/**
 * Where worker threads find the store's migrations: a module (path or URL) whose export
 * `export` (default `"migrations"`, else the default export) is the same `MigrationsOption`
 * the store was given. Functions cannot cross into a thread; a module can be imported there.
 */
export interface MigrationsModule {
  module: string | URL
  export?: string | undefined
}

/** The store settings a worker thread repeats (plain data: where the files are, waits). */
export interface WorkerStoreData {
  root: string
  path?: string | undefined
  bucketing?: boolean | BucketingOptions | undefined
  busyTimeoutMs: number
  lockTimeoutMs: number
}

/** What each worker thread is started with. */
export interface WorkerData {
  module: string
  exportName: string
  store: WorkerStoreData
}

interface WorkerReply {
  i: number
  applied: string[]
  error?: SerializedError
}

interface SerializedError {
  name: string
  message: string
  stack?: string | undefined
  code?: unknown
  tenant?: unknown
}

/** An error as plain data (a class instance loses its class crossing threads anyway). */
export function serializeError(error: unknown): SerializedError {
  const e = error as Partial<SerializedError> & { message?: unknown }
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(error),
    stack: typeof e?.stack === 'string' ? e.stack : undefined,
    code: e?.code,
    tenant: e?.tenant,
  }
}

/** The error a worker reported, rebuilt with its name, message, stack, `code` and `tenant`. */
function rebuild(s: SerializedError): Error {
  // A worker reports tenantry's own errors (a migration's failure or a fault, each coded); an
  // uncoded one can only be the migration's own, which is what MIGRATION_FAILED says.
  const code = isTenantryCode(s.code) ? s.code : 'TENANTRY_MIGRATION_FAILED'
  const error = Object.assign(new TenantryError(code, s.message), { tenant: s.tenant })
  error.name = s.name
  if (s.stack !== undefined) error.stack = s.stack
  return error
}

/** Whether a worker's `code` is one of tenantry's (they all start with the prefix). */
function isTenantryCode(code: unknown): code is TenantryErrorCode {
  return typeof code === 'string' && code.startsWith('TENANTRY_')
}

/** How many threads `migrateAllTenants` starts: `concurrency`, default one per core. */
export function workerThreads(options: MigrateAllOptions, tenants: number): number {
  const wanted = Math.floor(options.concurrency ?? availableParallelism())
  return Math.max(1, Math.min(wanted, tenants))
}

/**
 * Migrates tenants in `threads` worker threads, each with a store and connections of its own
 * over the same files, so that the synchronous parts (better-sqlite3, fsync at commit and
 * checkpoint) really overlap. Each thread takes the next tenant when it is done with one; a
 * failure is recorded in that tenant's result; `onResult` runs here after each tenant.
 */
export async function migrateInWorkers(
  tenants: readonly string[],
  threads: number,
  config: { migrations: MigrationsModule; store: WorkerStoreData },
  onResult: (result: TenantMigrationResult) => void = () => {},
): Promise<TenantMigrationResult[]> {
  const results: (TenantMigrationResult | undefined)[] = new Array(tenants.length)
  const m = config.migrations.module
  const data: WorkerData = {
    module: m instanceof URL ? m.href : /^[a-z]{2,}:/i.test(m) ? m : pathToFileURL(m).href,
    exportName: config.migrations.export ?? 'migrations',
    store: config.store,
  }
  const record = (i: number, result: TenantMigrationResult) => {
    results[i] = result
    onResult(result)
  }
  let next = 0
  const run = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const worker = startWorker(data)
      let current = -1
      worker.on('message', (reply: WorkerReply | 'ready') => {
        if (reply !== 'ready') {
          const tenant = tenants[reply.i]!
          record(
            reply.i,
            reply.error === undefined
              ? { tenant, applied: reply.applied }
              : { tenant, applied: [], error: rebuild(reply.error) },
          )
        }
        current = next++
        if (current >= tenants.length) worker.postMessage('close')
        else worker.postMessage({ i: current, tenant: tenants[current]! })
      })
      worker.once('error', (error) => {
        // The thread died (its module failed to load, say): its tenant failed; the other
        // threads carry on with the rest.
        if (current >= 0 && current < tenants.length && results[current] === undefined)
          record(current, { tenant: tenants[current]!, applied: [], error })
        worker.removeAllListeners('exit')
        void worker.terminate()
        reject(error)
      })
      worker.once('exit', () => resolve())
    })
  const settled = await Promise.allSettled(Array.from({ length: threads }, run))
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  // Tenants no thread got to (every thread died) share the first thread's error.
  for (let i = 0; i < tenants.length; i++)
    if (results[i] === undefined)
      record(i, {
        tenant: tenants[i]!,
        applied: [],
        error:
          failure?.reason ??
          new MigrationFailedError(tenants[i]!, undefined, 'its worker thread ended before it'),
      })
  return results as TenantMigrationResult[]
}

/** Starts one worker: the built `.js` entry, or from sources through the tsx bootstrap. */
function startWorker(data: WorkerData): Worker {
  const fromSource = import.meta.url.endsWith('.ts')
  if (!fromSource)
    return new Worker(new URL('./migrate-worker.js', import.meta.url), { workerData: data })
  const entry = new URL('./migrate-worker.ts', import.meta.url).href
  return new Worker(new URL('./worker-boot.mjs', import.meta.url), {
    workerData: { ...data, entry },
  })
}
