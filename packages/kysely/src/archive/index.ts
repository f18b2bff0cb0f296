export {
  ARCHIVE_FORMAT,
  ARCHIVE_VERSION,
  type ArchiveChecksums,
  ArchiveInvalidError,
  type ArchiveManifest,
  ArchiveSchemaError,
  decodeValue,
  ENTRY,
  encodeValue,
  type ValueTarget,
} from './format.js'
export {
  type ArchiveBackend,
  type ExportArchiveOptions,
  exportArchive,
  type ImportArchiveOptions,
  importArchive,
  type TenantSnapshot,
  type TenantStage,
} from './operations.js'
export { type ArchiveSink, type ArchiveSummary, readArchive } from './read.js'
export { type ArchiveProgress, type ArchiveSource, writeArchive } from './write.js'
