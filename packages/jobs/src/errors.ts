import { isTenantryError, TenantryError } from '@tenantry/context'
import { describe } from '@tenantry/context/internal'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_JOB_UNKNOWN: true
    TENANTRY_JOB_CONFIG: true
    TENANTRY_JOB_NO_BACKEND: true
    TENANTRY_JOB_BACKEND_CLOSED: true
    TENANTRY_JOB_ENVELOPE: true
    TENANTRY_JOB_PERMANENT: true
    TENANTRY_JOB_FAILED: true
    TENANTRY_JOB_TENANTS_FAILED: true
  }
}

/** A job name was defined twice in one worker, or a job was enqueued under a name no worker knows. */
export class UnknownJobError extends TenantryError {
  /** The job name that was not found. */
  readonly job: string

  constructor(job: string) {
    super(
      'TENANTRY_JOB_UNKNOWN',
      `No job named "${job}" is registered with this worker. Pass its defineJob() result in createWorker({ jobs: [...] }); every worker on one backend must know every job enqueued there.`,
    )
    this.job = job
  }
}

/** Invalid job definition, enqueue options or worker options. */
export class JobConfigError extends TenantryError {
  constructor(message: string) {
    super('TENANTRY_JOB_CONFIG', message)
  }
}

/** `enqueue` found no backend: none on the job, none in the call, and no default set. */
export class NoJobBackendError extends TenantryError {
  constructor(job: string) {
    super(
      'TENANTRY_JOB_NO_BACKEND',
      `Job "${job}" has no backend to enqueue on. Call setDefaultJobBackend(backend) at start-up, or pass { backend } to defineJob() or enqueue().`,
    )
  }
}

/** A backend was used after `close()`. */
export class JobBackendClosedError extends TenantryError {
  constructor(backend: string) {
    super(
      'TENANTRY_JOB_BACKEND_CLOSED',
      `The ${backend} job backend is closed. Create a new backend, or close it only after the last enqueue and worker.`,
    )
  }
}

/** A stored job could not be decoded (written by an incompatible version or by hand). */
export class InvalidJobEnvelopeError extends TenantryError {
  constructor(reason: string) {
    super(
      'TENANTRY_JOB_ENVELOPE',
      `A stored job is not a valid tenantry job envelope: ${reason}. It is failed without retries; enqueue jobs only through defineJob().enqueue().`,
    )
  }
}

/**
 * Throw it from a handler to fail the job at once, without the remaining retries (a payload
 * that can never succeed). The worker also treats an unknown or invalid tenant this way.
 */
export class PermanentJobError extends TenantryError {
  constructor(message: string, options?: ErrorOptions) {
    super('TENANTRY_JOB_PERMANENT', message, options)
  }
}

/**
 * A handler threw (or rejected with) something that is not an `Error`: a queue that needs an
 * Error (BullMQ) gets this one, with the thrown value as `cause`. The job is retried as usual.
 */
export class JobFailedError extends TenantryError {
  constructor(value: unknown) {
    super(
      'TENANTRY_JOB_FAILED',
      `A job handler threw a value that is not an Error (${describe(value).slice(0, 200)}). Throw Error objects so that the stack and code are kept.`,
      { cause: value },
    )
  }
}

/**
 * A run over every tenant (the backup or purge job) finished, but some tenants failed: the
 * others were done. The job fails so that it is retried (and reported) like any failed job.
 */
export class TenantRunFailedError extends TenantryError {
  /** The tenants that failed, each with its error's message. */
  readonly failed: readonly { tenant: string; error: string }[]

  constructor(what: string, failed: readonly { tenant: string; error: string }[]) {
    super(
      'TENANTRY_JOB_TENANTS_FAILED',
      `${what} failed for ${failed.map((f) => `${f.tenant} (${f.error})`).join(', ')}.`,
    )
    this.failed = failed
  }
}

const PERMANENT_CODES = new Set([
  'TENANTRY_JOB_PERMANENT',
  'TENANTRY_JOB_UNKNOWN',
  'TENANTRY_JOB_ENVELOPE',
  'TENANTRY_UNKNOWN_TENANT',
  'TENANTRY_INVALID_TENANT_NAME',
])

/**
 * True when retrying cannot help: the tenant was destroyed or its name is invalid, the job is
 * unknown, the envelope is corrupt, or the handler threw {@link PermanentJobError}.
 */
export function isPermanentJobError(error: unknown): boolean {
  return isTenantryError(error) && PERMANENT_CODES.has(error.code)
}
