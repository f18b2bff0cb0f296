import { tenancy as defaultTenancy, type Tenancy } from '@tenantry/context'
import type { BackoffOptions, JobBackend, NewJob } from './backend.js'
import { JobConfigError, NoJobBackendError } from './errors.js'
import type { JobLogger } from './logger.js'

/** What a handler gets besides its payload. */
export interface JobContext {
  /** The job's id, stable across retries: the key for idempotent side effects. */
  id: string
  /** The job's name. */
  name: string
  /** The tenant the handler runs in (also `currentTenant()`), or `undefined` when untenanted. */
  tenant: string | undefined
  /** This attempt's number, from 1. */
  attempt: number
  /** Attempts in total. */
  maxAttempts: number
  /** The worker's logger with `jobId`, `job` and `tenant` on every line (a no-op without one). */
  log: JobLogger
}

/** A job handler: runs inside the job's tenant (or outside any tenant when untenanted). */
export type JobHandler<P, R = unknown> = (payload: P, context: JobContext) => R | Promise<R>

/** Options of {@link defineJob}. */
export interface JobOptions {
  /** Attempts in total (1 = no retries); default 3. */
  attempts?: number
  /** Wait between attempts; default exponential from 1000 ms. */
  backoff?: BackoffOptions
  /** The backend `enqueue` uses; default: the one set with {@link setDefaultJobBackend}. */
  backend?: JobBackend
  /** The tenancy whose current tenant is captured and entered; default the shared one. */
  tenancy?: Tenancy
}

/** Options of {@link Job.enqueue}. */
export interface EnqueueOptions {
  /** Milliseconds before the first attempt; default 0. */
  delay?: number
  /** Attempts in total for this job; default the job's. */
  attempts?: number
  /**
   * The tenant to run in. Default: the current tenant (none outside a tenant). `null` makes
   * the job untenanted even when enqueued inside a tenant.
   */
  tenant?: string | null
  /** The backend to store the job in; default the job's, then the default backend. */
  backend?: JobBackend
}

/** A defined job: enqueue it anywhere, run it with `createWorker`. */
export interface Job<P = unknown, R = unknown> {
  /** The job's unique name on its backend. */
  readonly name: string
  /** The handler the worker calls. */
  readonly handler: JobHandler<P, R>
  /** Default attempts. */
  readonly attempts: number
  /** Default backoff. */
  readonly backoff: Required<BackoffOptions>
  /** The backend set at definition, if any. */
  readonly backend: JobBackend | undefined
  /** The tenancy the job captures and enters tenants of. */
  readonly tenancy: Tenancy
  /**
   * Stores one run of the job; resolves with its id once stored. The tenant is the current one
   * unless `options.tenant` says otherwise; its name is validated here and again at perform.
   */
  enqueue(payload: P, options?: EnqueueOptions): Promise<string>
}

let defaultBackend: JobBackend | undefined

/** Sets the backend that `enqueue` uses when neither the job nor the call names one. */
export function setDefaultJobBackend(backend: JobBackend | undefined): void {
  defaultBackend = backend
}

/** The backend set with {@link setDefaultJobBackend}, if any. */
export function getDefaultJobBackend(): JobBackend | undefined {
  return defaultBackend
}

/**
 * Defines a job. The payload type comes from the handler; the tenant is not part of it: it is
 * captured at enqueue and entered by the worker.
 */
export function defineJob<P = unknown, R = unknown>(
  name: string,
  handler: JobHandler<P, R>,
  options: JobOptions = {},
): Job<P, R> {
  if (typeof name !== 'string' || name === '')
    throw new JobConfigError('A job needs a non-empty string name.')
  if (typeof handler !== 'function')
    throw new JobConfigError(`Job "${name}": the handler must be a function.`)
  const attempts = checkAttempts(name, options.attempts ?? 3)
  const backoff = {
    type: options.backoff?.type ?? 'exponential',
    delay: options.backoff?.delay ?? 1000,
  } as const
  if (!(backoff.delay >= 0) || (backoff.type !== 'exponential' && backoff.type !== 'fixed'))
    throw new JobConfigError(
      `Job "${name}": backoff needs type "exponential" or "fixed" and a delay >= 0.`,
    )
  const tenancy = options.tenancy ?? defaultTenancy
  const job: Job<P, R> = {
    name,
    handler,
    attempts,
    backoff,
    backend: options.backend,
    tenancy,
    enqueue(payload, opts = {}) {
      const backend = opts.backend ?? job.backend ?? defaultBackend
      if (backend === undefined) return Promise.reject(new NoJobBackendError(name))
      try {
        return backend.enqueue(toNewJob(job, payload, opts, resolveTenant(job, opts.tenant)))
      } catch (error) {
        return Promise.reject(error)
      }
    },
  }
  return Object.freeze(job)
}

/**
 * Enqueues one run of `job` for every tenant of the job's tenancy (its tenant source's
 * `list()`), in one batch. Resolves with the ids in tenant order.
 */
export async function enqueueForEachTenant<P>(
  job: Job<P, any>,
  payload: P,
  options: Omit<EnqueueOptions, 'tenant'> = {},
): Promise<string[]> {
  const backend = options.backend ?? job.backend ?? defaultBackend
  if (backend === undefined) throw new NoJobBackendError(job.name)
  const tenants = await job.tenancy.listTenants()
  if (tenants.length === 0) return []
  const jobs = tenants.map((t) => toNewJob(job, payload, options, job.tenancy.validateName(t)))
  return await backend.enqueueMany(jobs)
}

function resolveTenant(job: Job<any, any>, tenant: string | null | undefined): string | null {
  if (tenant === null) return null
  if (tenant === undefined) return job.tenancy.currentTenant() ?? null
  return job.tenancy.validateName(tenant)
}

function toNewJob(
  job: Job<any, any>,
  payload: unknown,
  options: EnqueueOptions,
  tenant: string | null,
): NewJob {
  const delay = options.delay ?? 0
  if (!(Number.isFinite(delay) && delay >= 0))
    throw new JobConfigError(`Job "${job.name}": delay must be a number of ms >= 0.`)
  // Stored as JSON: refuse what would not survive the round trip now, not at perform.
  if (payload === undefined || typeof payload === 'function' || typeof payload === 'bigint')
    throw new JobConfigError(
      `Job "${job.name}": the payload must be JSON-serialisable (got ${typeof payload}).`,
    )
  return {
    name: job.name,
    tenant,
    payload,
    attempts: checkAttempts(job.name, options.attempts ?? job.attempts),
    backoff: job.backoff,
    delay,
  }
}

function checkAttempts(name: string, attempts: number): number {
  if (!(Number.isInteger(attempts) && attempts >= 1))
    throw new JobConfigError(`Job "${name}": attempts must be a whole number >= 1.`)
  return attempts
}
