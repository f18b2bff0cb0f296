import { readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'

/** A half-written backup (`<dest>.partial-<pid>-<hex>`) left by a writer that died. */
export interface PartialBackup {
  /** The file's path. */
  path: string
  /** The writing process, when the name carries it. */
  pid: number | undefined
  /** True when `{ fix: true }` removed it. */
  fixed: boolean
}

/** The name a backup is written under until it is complete: it names its writer. */
export function partialName(dest: string, suffix: string): string {
  return `${dest}.partial-${process.pid}-${suffix}`
}

const PARTIAL = /\.partial-(?:(\d+)-)?[0-9a-f]{8}$/
/** Names of releases that did not record the writer count as dead after this long unchanged. */
const UNNAMED_STALE_MS = 3_600_000

/**
 * The half-written backups under `dir` (recursively) whose writer is dead: its pid (in the
 * name) names no live process on this host. With `{ fix: true }` they are deleted. A backup
 * still being written is never listed, so run it on the host that writes the backups.
 */
export async function findPartialBackups(
  dir: string,
  options: { fix?: boolean | undefined } = {},
): Promise<PartialBackup[]> {
  let names: string[]
  try {
    names = (await readdir(dir, { recursive: true })) as string[]
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  const found: PartialBackup[] = []
  for (const name of names.sort()) {
    const m = PARTIAL.exec(name)
    if (m === null) continue
    const path = join(dir, name)
    const pid = m[1] === undefined ? undefined : Number(m[1])
    if (pid !== undefined ? alive(pid) : await recent(path)) continue
    const p: PartialBackup = { path, pid, fixed: false }
    if (options.fix) {
      await rm(path, { force: true })
      p.fixed = true
    }
    found.push(p)
  }
  return found
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' // alive, someone else's
  }
}

async function recent(path: string): Promise<boolean> {
  const s = await stat(path).catch(() => undefined)
  return s !== undefined && Date.now() - s.mtimeMs < UNNAMED_STALE_MS
}
