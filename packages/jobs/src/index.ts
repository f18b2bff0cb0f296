/**
 * @tenantry/jobs — tenant-aware background jobs. The tenant is captured at enqueue, travels as
 * an explicit envelope field, and is entered with `withTenant` around each handler by the
 * worker. The embedded SQLite backend is here; the BullMQ one is `@tenantry/jobs/bullmq`.
 */
export {
  type BackoffOptions,
  backoffDelay,
  type ConsumeOptions,
  type JobBackend,
  type JobConsumer,
  type JobEnvelope,
  type JobInfo,
  type JobOutcome,
  type JobProcessor,
  type NewJob,
} from './backend.js'
export {
  type BackupJobOptions,
  type BackupRun,
  type BackupTarget,
  defineBackupJob,
} from './backup-job.js'
export { createEmbeddedBackend, type EmbeddedBackendOptions } from './embedded-backend.js'
export * from './errors.js'
export {
  defineJob,
  type EnqueueOptions,
  enqueueForEachTenant,
  getDefaultJobBackend,
  type Job,
  type JobContext,
  type JobHandler,
  type JobOptions,
  setDefaultJobBackend,
} from './job.js'
export { attachJobs } from './lifecycle.js'
export { type JobLogger, type LogFn, silentLogger } from './logger.js'
export {
  definePurgeJob,
  type PurgeJobOptions,
  type PurgeRun,
  type PurgeTarget,
} from './purge-job.js'
export { createWorker, type Worker, type WorkerEvents, type WorkerOptions } from './worker.js'
