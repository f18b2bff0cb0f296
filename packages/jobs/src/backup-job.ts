import { JobConfigError, TenantRunFailedError } from './errors.js'
import { defineJob, type Job, type JobOptions } from './job.js'

/** The store methods the backup job uses (a tenantry store has them). */
export interface BackupTarget {
  list(): Promise<string[]>
  backupTenantToDir(
    tenant: string,
    dir: string,
    options?: { keep?: number | undefined },
  ): Promise<string>
}

/** Options of {@link defineBackupJob}. */
export interface BackupJobOptions extends JobOptions {
  /** The store whose tenants are backed up. */
  store: BackupTarget
  /** The folder backups go to (`dir/<tenant>/<tenant>-<stamp>.tenantry.tar`). */
  dir: string
  /** Backups kept per tenant (older ones are deleted); default: all. */
  keep?: number
  /** Run again this long after each run finished (ms); default: once. */
  everyMs?: number
  /** The job's name; default `tenantry.backup`. */
  name?: string
}

/** What one run of the backup job did. */
export interface BackupRun {
  written: string[]
  failed: { tenant: string; error: string }[]
}

/**
 * A job that backs up every tenant of `store` to `dir`, one after another, keeping `keep` per
 * tenant, and (with `everyMs`) enqueues its next run when it finishes: scheduled backups with
 * no cron, surviving restarts like any stored job. Enqueue the first run untenanted:
 * `backupJob.enqueue({}, { tenant: null })`. A tenant that fails does not stop the others; the
 * run fails (and is retried) when any did.
 */
export function defineBackupJob(options: BackupJobOptions): Job<Record<string, never>, BackupRun> {
  const { store, dir, keep, everyMs, name = 'tenantry.backup', ...jobOptions } = options
  if (everyMs !== undefined && !(everyMs > 0))
    throw new JobConfigError(`Job "${name}": everyMs must be > 0.`)
  const job: Job<Record<string, never>, BackupRun> = defineJob(
    name,
    async (_payload, ctx) => {
      const run: BackupRun = { written: [], failed: [] }
      for (const tenant of await store.list())
        try {
          run.written.push(await store.backupTenantToDir(tenant, dir, { keep }))
        } catch (error) {
          run.failed.push({ tenant, error: error instanceof Error ? error.message : String(error) })
        }
      // Only the first attempt schedules the next run: a retry must not fork the schedule.
      if (everyMs !== undefined && ctx.attempt === 1)
        await job.enqueue({}, { tenant: null, delay: everyMs })
      if (run.failed.length > 0) throw new TenantRunFailedError('Backups', run.failed)
      return run
    },
    jobOptions,
  )
  return job
}
