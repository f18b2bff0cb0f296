import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll } from 'vitest'

/** A temp folder removed after the file's tests. */
export function tempRoot(prefix = 'tenantry-sqlite-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

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

/** A promise with its resolve function, for latches. */
export function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((r) => {
    open = r
  })
  return { promise, open }
}
