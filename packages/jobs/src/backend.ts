/** How a failed attempt waits before the next one. */
export interface BackoffOptions {
  /** `exponential` (default): `delay * 2^(attempt-1)`; `fixed`: always `delay`. */
  type?: 'exponential' | 'fixed'
  /** Base delay in ms; default 1000. */
  delay?: number
}

/** A job as handed to a backend by `enqueue`: everything a worker needs, nothing more. */
export interface NewJob {
  /** The job's name (its `defineJob` name). */
  name: string
  /**
   * The tenant the job runs in, or `null` for an untenanted job. An explicit field of the
   * envelope, never inside the payload, so a handler cannot forget or forge it.
   */
  tenant: string | null
  /** The user payload (JSON-serialisable). */
  payload: unknown
  /** Attempts in total, at least 1. */
  attempts: number
  /** Backoff between attempts. */
  backoff: Required<BackoffOptions>
  /** Milliseconds before the first attempt may start. */
  delay: number
}

/** A job as handed to a worker by a backend. */
export interface JobEnvelope {
  /** Backend-assigned id, stable across retries (use it for idempotency). */
  id: string
  /** The job's name. */
  name: string
  /** The tenant to run in, or `null` for none. */
  tenant: string | null
  /** The user payload. */
  payload: unknown
  /** This attempt's number, from 1. */
  attempt: number
  /** Attempts in total. */
  maxAttempts: number
}

/** What the worker decided about one attempt; the backend records it. */
export type JobOutcome =
  | { ok: true }
  | {
      ok: false
      /** What the handler (or the tenant check) threw. */
      error: unknown
      /** True when no retry may follow (tenant destroyed, unknown job, PermanentJobError). */
      permanent: boolean
    }

/** Runs one attempt of a job. Never rejects: failures come back as an outcome. */
export type JobProcessor = (envelope: JobEnvelope) => Promise<JobOutcome>

/** Options of {@link JobBackend.consume}. */
export interface ConsumeOptions {
  /** Most attempts running at once. */
  concurrency: number
  /** The job names this consumer handles. */
  names: readonly string[]
  /** Called with backend errors that are not a job's failure (a lost connection). */
  onError: (error: unknown) => void
}

/** A running consumer; `close` stops taking jobs and waits for the running ones. */
export interface JobConsumer {
  /** Stops taking new jobs and resolves when the running ones have finished. */
  close(): Promise<void>
}

/** The state of a stored job, as far as the backend still knows it. */
export interface JobInfo {
  /** The job's id. */
  id: string
  /** The job's name. */
  name: string
  /** The tenant, or `null`. */
  tenant: string | null
  /** `waiting` includes delayed jobs and jobs waiting for a retry. */
  state: 'waiting' | 'active' | 'completed' | 'failed'
  /** Attempts started so far. */
  attemptsMade: number
  /** The last failure's message, if any. */
  lastError: string | undefined
}

/**
 * Where jobs are stored and how they are handed out. The backend owns delivery (at-least-once,
 * retries, backoff, delays, leases); the worker owns the tenant (see `createWorker`).
 */
export interface JobBackend {
  /** Short name for messages (`embedded`, `bullmq`). */
  readonly kind: string
  /** Stores one job; resolves with its id. */
  enqueue(job: NewJob): Promise<string>
  /** Stores several jobs at once (one transaction or round trip where possible). */
  enqueueMany(jobs: readonly NewJob[]): Promise<string[]>
  /** Starts handing jobs to `processor`. */
  consume(processor: JobProcessor, options: ConsumeOptions): JobConsumer
  /** The job's state, or `undefined` when the backend no longer has it (completed and removed). */
  getJob(id: string): Promise<JobInfo | undefined>
  /**
   * Deletes every stored job of `tenant` (waiting, delayed, failed, kept completed; a running
   * one finishes but is not retried) and resolves with how many went. Called when the tenant is
   * destroyed (see `attachJobs`). Optional for third-party backends.
   */
  removeTenantJobs?(tenant: string): Promise<number>
  /** Releases the backend's connections; consumers should be closed first. */
  close(): Promise<void>
}

/** `delay * 2^(attempt-1)` or `delay`: the wait after failed attempt number `attempt`. */
export function backoffDelay(backoff: Required<BackoffOptions>, attempt: number): number {
  if (backoff.type === 'fixed') return backoff.delay
  return backoff.delay * 2 ** Math.max(0, attempt - 1)
}
