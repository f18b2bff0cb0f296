import { createHash } from 'node:crypto'
import { type Readable, Transform } from 'node:stream'
import { isTenantryError } from '@tenantry/context'
import tar from 'tar-stream'
import {
  ARCHIVE_FORMAT,
  ARCHIVE_VERSION,
  type ArchiveChecksums,
  ArchiveInvalidError,
  type ArchiveManifest,
  decodeValue,
  ENTRY,
  safeRelative,
  type ValueTarget,
} from './format.js'
import type { ArchiveProgress } from './write.js'

/** Where {@link readArchive} puts what it reads; each call is awaited before the next entry. */
export interface ArchiveSink {
  /** The manifest, before anything else: prepare the staging area. */
  begin(manifest: ArchiveManifest): Promise<void>
  /** The database image (when `manifest.database` is set): write it out in full. */
  database(image: Readable): Promise<void>
  /** A batch of one table's rows, decoded for the target. */
  rows(table: string, rows: Record<string, unknown>[]): Promise<void>
  /** One file of a file set, streamed: write it out in full before resolving. */
  file(set: string, rel: string, data: Readable, mode: number): Promise<void>
}

/** Largest manifest, checksums or rows chunk read whole (files and images are streamed). */
const MAX_WHOLE_ENTRY = 256 * 1024 * 1024

/** What an archive held, once read and checked. */
export interface ArchiveSummary {
  manifest: ArchiveManifest
  checksums: ArchiveChecksums
}

/**
 * Reads a tenant archive from `input` into `sink`, checking every entry's SHA-256 and the row
 * counts against `checksums.json`. Throws {@link ArchiveInvalidError} for anything that is not
 * a whole, intact archive; the caller then throws its staging area away.
 */
export async function readArchive(
  input: Readable,
  sink: ArchiveSink,
  options: { target: ValueTarget; onProgress?: ((p: ArchiveProgress) => void) | undefined },
): Promise<ArchiveSummary> {
  const extract = tar.extract()
  input.on('error', (error) => extract.destroy(error))
  input.pipe(extract)
  let manifest: ArchiveManifest | undefined
  let checksums: ArchiveChecksums | undefined
  const seen = new Map<string, { size: number; sha256: string }>()
  const rows = new Map<string, number>()
  let files = 0
  let bytes = 0
  try {
    for await (const entry of extract) {
      const name = entry.header.name
      if (entry.header.type !== 'file') throw new ArchiveInvalidError(`${name} is not a file.`)
      if (checksums !== undefined) throw new ArchiveInvalidError(`${name} after the checksums.`)
      if (manifest === undefined && name !== ENTRY.manifest)
        throw new ArchiveInvalidError(`the first entry is ${name}, not ${ENTRY.manifest}.`)
      if (seen.has(name)) throw new ArchiveInvalidError(`${name} appears twice.`)
      const stream = entry as unknown as Readable
      const done = (size: number, sha256: string) => {
        seen.set(name, { size, sha256 })
        bytes += size
        options.onProgress?.({ entry: name, bytes })
      }
      /** Hands the entry's bytes to `to` as a stream, hashing them on the way. */
      const streamed = async (to: (data: Readable) => Promise<void>) => {
        const hash = createHash('sha256')
        let size = 0
        const copy = new Transform({
          transform(chunk: Buffer, _enc, next) {
            hash.update(chunk)
            size += chunk.length
            next(null, chunk)
          },
        })
        stream.on('error', (error) => copy.destroy(error))
        await to(stream.pipe(copy))
        done(size, hash.digest('hex'))
      }
      if (name === ENTRY.database) {
        if (manifest?.database === undefined)
          throw new ArchiveInvalidError('a database image the manifest does not announce.')
        await streamed((image) => sink.database(image))
        continue
      }
      if (name.startsWith(ENTRY.files) && manifest !== undefined) {
        const rest = safeRelative(name.slice(ENTRY.files.length))
        const slash = rest.indexOf('/')
        const set = slash < 0 ? '' : rest.slice(0, slash)
        if (slash < 0 || !manifest.fileSets.includes(set))
          throw new ArchiveInvalidError(`file ${name} of no announced file set.`)
        const mode = (entry.header.mode ?? 0o644) & 0o777
        await streamed((data) => sink.file(set, rest.slice(slash + 1), data, mode))
        files++
        continue
      }
      // Everything else is read whole: the manifest, the checksums, a chunk of 500 rows.
      if ((entry.header.size ?? 0) > MAX_WHOLE_ENTRY)
        throw new ArchiveInvalidError(
          `${name} is ${entry.header.size} bytes, too large for its kind.`,
        )
      const data = await collect(stream)
      done(data.length, createHash('sha256').update(data).digest('hex'))
      if (name === ENTRY.manifest) {
        manifest = parseManifest(data)
        await sink.begin(manifest)
      } else if (name === ENTRY.checksums) {
        checksums = parseJson(data, name) as ArchiveChecksums
      } else if (name.startsWith(ENTRY.rows)) {
        const table = decodeURIComponent(name.slice(ENTRY.rows.length).split('/')[0] ?? '')
        if (!manifest!.tables.includes(table))
          throw new ArchiveInvalidError(`rows of table "${table}", not in the manifest.`)
        const batch = data
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => decodeRow(parseJson(Buffer.from(l), name), options.target))
        rows.set(table, (rows.get(table) ?? 0) + batch.length)
        await sink.rows(table, batch)
      } else throw new ArchiveInvalidError(`unknown entry ${name}.`)
    }
  } catch (error) {
    input.unpipe(extract)
    input.resume()
    // The sink's own errors (a tenant that exists, a refused schema) pass as they are.
    if (error instanceof ArchiveInvalidError || isTenantryError(error)) throw error
    throw new ArchiveInvalidError(
      `it could not be read (${error instanceof Error ? error.message : String(error)}).`,
      { cause: error },
    )
  }
  if (manifest === undefined) throw new ArchiveInvalidError('it is empty.')
  if (checksums === undefined)
    throw new ArchiveInvalidError('it ends before checksums.json (truncated).')
  verify(seen, rows, files, checksums)
  return { manifest, checksums }
}

function verify(
  seen: Map<string, { size: number; sha256: string }>,
  rows: Map<string, number>,
  files: number,
  sums: ArchiveChecksums,
): void {
  for (const [name, expected] of Object.entries(sums.entries ?? {})) {
    const got = seen.get(name)
    if (got === undefined) throw new ArchiveInvalidError(`${name} is missing.`)
    if (got.sha256 !== expected.sha256 || got.size !== expected.size)
      throw new ArchiveInvalidError(`${name} is damaged (checksum mismatch).`)
  }
  for (const name of seen.keys())
    if (name !== ENTRY.checksums && sums.entries[name] === undefined)
      throw new ArchiveInvalidError(`${name} is not in the checksums.`)
  for (const [table, n] of Object.entries(sums.rows ?? {}))
    if ((rows.get(table) ?? 0) !== n)
      throw new ArchiveInvalidError(`table "${table}" has ${rows.get(table) ?? 0} rows, not ${n}.`)
  if (files !== sums.files) throw new ArchiveInvalidError(`${files} files, not ${sums.files}.`)
}

function parseManifest(data: Buffer): ArchiveManifest {
  const m = parseJson(data, ENTRY.manifest) as Partial<ArchiveManifest>
  if (m.format !== ARCHIVE_FORMAT) throw new ArchiveInvalidError('not a tenantry archive.')
  if (m.version !== ARCHIVE_VERSION)
    throw new ArchiveInvalidError(
      `layout version ${m.version}; this tenantry reads ${ARCHIVE_VERSION}.`,
    )
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string')
  if (
    typeof m.tenant !== 'string' ||
    !strings(m.migrations) ||
    !strings(m.tables) ||
    !strings(m.fileSets)
  )
    throw new ArchiveInvalidError('the manifest is incomplete.')
  for (const set of m.fileSets!) safeRelative(set)
  return m as ArchiveManifest
}

function parseJson(data: Buffer, name: string): unknown {
  try {
    return JSON.parse(data.toString('utf8'))
  } catch (error) {
    throw new ArchiveInvalidError(`${name} is not valid JSON.`, { cause: error })
  }
}

function decodeRow(row: unknown, target: ValueTarget): Record<string, unknown> {
  if (typeof row !== 'object' || row === null || Array.isArray(row))
    throw new ArchiveInvalidError('a row is not an object.')
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(row)) out[k] = decodeValue(v, target)
  return out
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}
