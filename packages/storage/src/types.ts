import type { Readable } from 'node:stream'

/** What {@link Storage.put} accepts: bytes, text (UTF-8), or a stream of chunks. */
export type StorageData = string | Uint8Array | Readable | AsyncIterable<Uint8Array | string>

/** Facts about one stored file. */
export interface StorageStat {
  /** Size in bytes. */
  size: number
  /** Last modification time. */
  modified: Date
}

/**
 * One tenant's files, addressed by keys: relative, `/`-separated paths such as
 * `images/logo.png`. Small on purpose, so an S3-like backend can implement it: folders are
 * implicit, `list` filters by string prefix, writes replace whole objects.
 */
export interface Storage {
  /** Writes a file atomically (readers see the old or the new content, never a mix). */
  put(key: string, data: StorageData): Promise<void>
  /** Reads a whole file; `StorageNotFoundError` when absent. */
  get(key: string): Promise<Buffer>
  /** Opens a file for streaming; `StorageNotFoundError` when absent. */
  getStream(key: string): Promise<Readable>
  /** Deletes a file; resolves `false` when there was none. */
  delete(key: string): Promise<boolean>
  /** Every key starting with `prefix` (a plain string prefix, as in S3), sorted. */
  list(prefix?: string): Promise<string[]>
  /** True when a file exists at `key`. Invalid keys still throw `StoragePathError`. */
  exists(key: string): Promise<boolean>
  /** Size and modification time; `StorageNotFoundError` when absent. */
  stat(key: string): Promise<StorageStat>
}
