import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Transform, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import tar from 'tar-stream'
import {
  type ArchiveChecksums,
  ArchiveInvalidError,
  type ArchiveManifest,
  ENTRY,
  encodeValue,
} from './format.js'

/** What {@link writeArchive} packs: a manifest and where its parts come from. */
export interface ArchiveSource {
  /** The manifest, written first. */
  manifest: ArchiveManifest
  /** Batches of one table's rows (from one consistent snapshot). */
  rows(table: string): AsyncIterable<readonly Record<string, unknown>[]>
  /** The database image file, when `manifest.database` is set. */
  databaseFile?: string | undefined
  /** The folder of a file set of `manifest.fileSets` (may not exist). */
  fileDir(set: string): string
}

/** Progress while an archive is written or read. */
export interface ArchiveProgress {
  /** The entry just written or read. */
  entry: string
  /** Bytes of entries so far. */
  bytes: number
}

/**
 * Writes a tenant archive to `out`: a tar (tar-stream) with `manifest.json`, then either the
 * database image or the rows of each table as NDJSON chunks, then each file set under
 * `files/<set>/`, and `checksums.json` last. Resolves when `out` has everything. Files and the
 * image are streamed and rows come in batches, so memory stays bounded by a chunk, not a file.
 */
export async function writeArchive(
  out: Writable,
  source: ArchiveSource,
  onProgress?: (p: ArchiveProgress) => void,
): Promise<ArchiveChecksums> {
  const pack = tar.pack()
  const piped = pipeline(pack, out)
  const sums: ArchiveChecksums = { entries: {}, rows: {}, files: 0 }
  let bytes = 0
  const add = (name: string, data: Buffer, mode?: number): Promise<void> =>
    new Promise((done, fail) => {
      sums.entries[name] = { size: data.length, sha256: sha256(data) }
      bytes += data.length
      pack.entry({ name, size: data.length, mode: mode ?? 0o644 }, data, (error) =>
        error ? fail(error) : done(),
      )
      onProgress?.({ entry: name, bytes })
    })
  /**
   * Streams the first `size` bytes of `file` (its size when listed): memory stays at a few
   * chunks whatever the file's size. A file that grows meanwhile is cut at that size; one that
   * shrinks fails the backup (tar needs the size up front).
   */
  const addFile = async (name: string, file: string, size: number, mode: number) => {
    if (size === 0) return add(name, Buffer.alloc(0), mode)
    const hash = createHash('sha256')
    let got = 0
    const count = new Transform({
      transform(chunk: Buffer, _enc, next) {
        hash.update(chunk)
        got += chunk.length
        next(null, chunk)
      },
      flush(done) {
        done(
          got === size
            ? null
            : new ArchiveInvalidError(
                `${name} shrank from ${size} to ${got} bytes while it was read; back up again.`,
              ),
        )
      },
    })
    await pipeline(
      createReadStream(file, { start: 0, end: size - 1 }),
      count,
      pack.entry({ name, size, mode }),
    )
    sums.entries[name] = { size, sha256: hash.digest('hex') }
    bytes += size
    onProgress?.({ entry: name, bytes })
  }
  try {
    const { manifest } = source
    await add(ENTRY.manifest, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`))
    if (manifest.database !== undefined) {
      const file = source.databaseFile
      if (file === undefined)
        throw new ArchiveInvalidError('the manifest names a database but the source has no file.')
      await addFile(ENTRY.database, file, (await lstat(file)).size, 0o600)
    }
    for (const table of manifest.tables) {
      let count = 0
      let part = 0
      for await (const batch of source.rows(table)) {
        if (batch.length === 0) continue
        const lines = batch.map((row) => JSON.stringify(encodeRow(row))).join('\n')
        await add(rowsEntry(table, ++part), Buffer.from(`${lines}\n`))
        count += batch.length
      }
      sums.rows[table] = count
    }
    for (const set of manifest.fileSets)
      for await (const { rel, abs, mode, size } of walk(source.fileDir(set))) {
        await addFile(`${ENTRY.files}${set}/${rel}`, abs, size, mode)
        sums.files++
      }
    await add(ENTRY.checksums, Buffer.from(`${JSON.stringify(sums)}\n`))
    pack.finalize()
  } catch (error) {
    pack.destroy(error as Error)
    await piped.catch(() => {})
    throw error
  }
  await piped
  return sums
}

/** The entry name of a table's `part`-th chunk (table names are URI-encoded). */
export function rowsEntry(table: string, part: number): string {
  return `${ENTRY.rows}${encodeURIComponent(table)}/${String(part).padStart(6, '0')}.ndjson`
}

function encodeRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(row)) out[k] = encodeValue(v)
  return out
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Regular files under `dir`, sorted, as `/`-separated relative paths; symlinks are skipped. */
async function* walk(
  dir: string,
  prefix = '',
): AsyncGenerator<{ rel: string; abs: string; mode: number; size: number }> {
  let entries: import('node:fs').Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const e of entries) {
    const abs = join(dir, e.name)
    const rel = prefix === '' ? e.name : `${prefix}/${e.name}`
    if (e.isDirectory()) yield* walk(abs, rel)
    else if (e.isFile()) {
      const st = await lstat(abs)
      yield { rel, abs, mode: st.mode & 0o777, size: st.size }
    }
  }
}
