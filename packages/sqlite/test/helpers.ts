import { readdirSync } from 'node:fs'
import { join, relative } from 'node:path'

/** Every file under `dir`, relative and sorted. */
export function filesUnder(dir: string): string[] {
  try {
    return (
      readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[]
    )
      .filter((e) => e.isFile())
      .map((e) => relative(dir, join(e.parentPath, e.name)))
      .sort()
  } catch {
    return []
  }
}

/** Open file descriptors of this process (Linux). */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length
}
