import type { Tenancy } from '@tenantry/context'
import type { JobBackend, JobConsumer, JobEnvelope, JobOutcome } from './backend.js'
import { isPermanentJobError, JobConfigError, UnknownJobError } from './errors.js'
import type { Job, JobContext } from './job.js'
import { type JobLogger, silentLogger, withFields } from './logger.js'

const COMPLETED: JobOutcome = Object.freeze({ ok: true })

/** Options of {@link createWorker}. */
export interface WorkerOptions {
  /** Where jobs come from. */
  backend: JobBackend
  /** The jobs this worker runs (every job enqueued on the backend should be here). */
  jobs: readonly Job<any, any>[]
  /** Most jobs running at once; default 1. */
  concurrency?: number
  /** The tenancy whose tenants are entered; default the jobs' (they must all share one). */
  tenancy?: Tenancy
  /**
   * A pino-compatible logger. Each job logs through a child with `jobId` and `job`, and every
   * line carries `tenant` (give pino the core's `tenantLogFields` as `mixin` so that lines of
   * code the job calls carry it too).
   */
  logger?: JobLogger
}

/** Listeners of a {@link Worker}. */
export interface WorkerEvents {
  /** An attempt succeeded. */
  completed: (job: JobEnvelope, result: unknown) => void
  /** An attempt failed; `willRetry` is false when it was the last one or the error is permanent. */
  failed: (
    job: JobEnvelope,
    error: unknown,
    info: { willRetry: boolean; permanent: boolean },
  ) => void
  /** A backend error that is not a job's failure (a lost connection, a listener that threw). */
  error: (error: unknown) => void
}

/** A running worker. */
export interface Worker {
  /** Adds a listener. */
  on<E extends keyof WorkerEvents>(event: E, listener: WorkerEvents[E]): Worker
  /** Removes a listener. */
  off<E extends keyof WorkerEvents>(event: E, listener: WorkerEvents[E]): Worker
  /** Attempts running now. */
  readonly running: number
  /** Stops taking jobs and resolves once the running ones have finished (graceful shutdown). */
  close(): Promise<void>
}

/**
 * Starts a worker: takes jobs from `backend` and runs each handler inside
 * `withTenant(job.tenant)`, or inside `withoutTenant` for untenanted jobs, so no attempt ever
 * sees another job's tenant. A destroyed tenant (`TENANTRY_UNKNOWN_TENANT`) fails the job
 * permanently instead of retrying.
 */
export function createWorker(options: WorkerOptions): Worker {
  const { backend, jobs } = options
  const concurrency = options.concurrency ?? 1
  if (!(Number.isInteger(concurrency) && concurrency >= 1))
    throw new JobConfigError('createWorker: concurrency must be a whole number >= 1.')
  if (jobs.length === 0) throw new JobConfigError('createWorker: pass at least one job in `jobs`.')
  const tenancy = options.tenancy ?? jobs[0]!.tenancy
  const byName = new Map<string, Job<any, any>>()
  for (const job of jobs) {
    if (byName.has(job.name))
      throw new JobConfigError(
        `createWorker: two jobs are named "${job.name}"; names must be unique.`,
      )
    if (job.tenancy !== tenancy)
      throw new JobConfigError(
        `createWorker: job "${job.name}" belongs to another tenancy than the worker; define it with { tenancy } of the worker.`,
      )
    byName.set(job.name, job)
  }
  const baseLogger = options.logger ?? silentLogger
  const logging = options.logger !== undefined
  const listeners: { [E in keyof WorkerEvents]: Set<WorkerEvents[E]> } = {
    completed: new Set(),
    failed: new Set(),
    error: new Set(),
  }
  const emit = <E extends keyof WorkerEvents>(
    event: E,
    ...args: Parameters<WorkerEvents[E]>
  ): void => {
    for (const listener of listeners[event]) {
      try {
        ;(listener as (...a: unknown[]) => void)(...args)
      } catch (error) {
        if (event === 'error') baseLogger.error({ err: error }, 'a worker error listener threw')
        else emit('error', error)
      }
    }
  }
  let running = 0

  const failed = (env: JobEnvelope, log: JobLogger, error: unknown): JobOutcome => {
    const permanent = isPermanentJobError(error)
    const willRetry = !permanent && env.attempt < env.maxAttempts
    log[willRetry ? 'warn' : 'error'](
      { err: error, attempt: env.attempt, maxAttempts: env.maxAttempts, willRetry, permanent },
      willRetry ? 'job attempt failed; it will be retried' : 'job failed',
    )
    emit('failed', env, error, { willRetry, permanent })
    return { ok: false, error, permanent }
  }

  // Written without async/await and without a wrapper closure around the handler: this runs
  // once per job, and on Node 20 every promise made here pays AsyncLocalStorage's promise hooks
  // (see the README's "Overhead" section for what is left and why).
  const perform = (env: JobEnvelope): Promise<JobOutcome> => {
    running++
    const log = logging
      ? withFields(
          baseLogger.child({ jobId: env.id, job: env.name }),
          env.tenant === null ? {} : { tenant: env.tenant },
        )
      : silentLogger
    let attempt: Promise<unknown>
    try {
      const job = byName.get(env.name)
      if (job === undefined) throw new UnknownJobError(env.name)
      const handler = job.handler
      const payload = env.payload
      const context: JobContext = {
        id: env.id,
        name: env.name,
        tenant: env.tenant ?? undefined,
        attempt: env.attempt,
        maxAttempts: env.maxAttempts,
        log,
      }
      const run = (): unknown => handler(payload, context)
      // Both branches set the frame explicitly: whatever context the backend calls us from
      // (a wake-up from inside a request, the previous job's continuation, a worker started
      // inside a tenant), the handler sees exactly the envelope's tenant or none. Leaving the
      // caller's frame first matters: withTenant of the tenant already current is a no-op, and
      // would run the job in the caller's scope with its overrides (an open transaction).
      // withTenant closes the tenant's scope once the handler's promise (or thenable) settles.
      const tenant = env.tenant
      attempt =
        tenant === null
          ? Promise.resolve(tenancy.withoutTenant(run))
          : tenancy.withoutTenant(() =>
              tenancy.withTenant(tenancy.validateName(tenant), run, { allowSwitch: true }),
            )
    } catch (error) {
      attempt = Promise.reject(error)
    }
    return attempt.then(
      (result) => {
        try {
          if (logging) log.debug({ attempt: env.attempt }, 'job completed')
          emit('completed', env, result)
          return COMPLETED
        } catch (error) {
          return failed(env, log, error)
        } finally {
          running--
        }
      },
      (error: unknown) => {
        try {
          return failed(env, log, error)
        } finally {
          running--
        }
      },
    )
  }

  const consumer: JobConsumer = backend.consume(perform, {
    concurrency,
    names: [...byName.keys()],
    onError: (error) => {
      baseLogger.error({ err: error }, 'job backend error')
      emit('error', error)
    },
  })
  let closing: Promise<void> | undefined
  const worker: Worker = {
    on(event, listener) {
      listeners[event].add(listener)
      return worker
    },
    off(event, listener) {
      listeners[event].delete(listener)
      return worker
    },
    get running() {
      return running
    },
    close() {
      closing ??= consumer.close()
      return closing
    },
  }
  return worker
}
