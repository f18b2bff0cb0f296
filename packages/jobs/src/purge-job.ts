import { JobConfigError, TenantRunFailedError } from './errors.js'
import { defineJob, type Job, type JobOptions } from './job.js'

/** The store method the purge job uses (a tenantry store with soft deletes has it). */
export interface PurgeTarget {
  purgeExpired(): Promise<{ tenant: string; error?: unknown }[]>
}

/** Options of {@link definePurgeJob}. */
export interface PurgeJobOptions extends JobOptions {
  /** The store whose soft-deleted tenants are purged once their grace ends. */
  store: PurgeTarget
  /** Run again this long after each run finished (ms); default: once. */
  everyMs?: number
  /** The job's name; default `tenantry.purge`. */
  name?: string
}

/** What one run of the purge job did. */
export interface PurgeRun {
  purged: string[]
  failed: { tenant: string; error: string }[]
}

/**
 * A job that purges every soft-deleted tenant of `store` whose grace has ended (like a
 * destroy: database, files, jobs, cache entries) and (with `everyMs`) enqueues its next run.
 * Enqueue the first run untenanted: `purgeJob.enqueue({}, { tenant: null })`. A tenant that
 * fails does not stop the others; the run fails (and is retried) when any did.
 */
export function definePurgeJob(options: PurgeJobOptions): Job<Record<string, never>, PurgeRun> {
  const { store, everyMs, name = 'tenantry.purge', ...jobOptions } = options
  if (everyMs !== undefined && !(everyMs > 0))
    throw new JobConfigError(`Job "${name}": everyMs must be > 0.`)
  const job: Job<Record<string, never>, PurgeRun> = defineJob(
    name,
    async (_payload, ctx) => {
      const run: PurgeRun = { purged: [], failed: [] }
      for (const r of await store.purgeExpired())
        if (r.error === undefined) run.purged.push(r.tenant)
        else
          run.failed.push({
            tenant: r.tenant,
            error: r.error instanceof Error ? r.error.message : String(r.error),
          })
      // Only the first attempt schedules the next run: a retry must not fork the schedule.
      if (everyMs !== undefined && ctx.attempt === 1)
        await job.enqueue({}, { tenant: null, delay: everyMs })
      if (run.failed.length > 0) throw new TenantRunFailedError('Purges', run.failed)
      return run
    },
    jobOptions,
  )
  return job
}
