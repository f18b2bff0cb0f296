import { closeSync, fsyncSync, openSync, readSync, rmdirSync } from 'node:fs'

/** `PRAGMA user_version` straight from the file header (bytes 60–63), without opening SQLite. */
export function headerVersion(file: string): number | undefined {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch {
    return undefined
  }
  try {
    const buf = Buffer.alloc(4)
    return readSync(fd, buf, 0, 4, 60) === 4 ? buf.readInt32BE(0) : undefined
  } finally {
    closeSync(fd)
  }
}

/** Flushes a file or folder to disk (a rename is durable only once its folder is). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Removes an empty folder; leaves it when other files are there or it is gone already. */
export function rmdirQuiet(dir: string): void {
  try {
    rmdirSync(dir)
  } catch {
    // Not empty (other packages keep files there too) or already gone: leave it.
  }
}
