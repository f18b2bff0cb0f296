import { closeSync, fstatSync, openSync } from 'node:fs'

/**
 * Which file a handle has open. SQLite keeps writing to a database file that another process
 * unlinked (WAL mode never checks), so a handle opened before a destroy would acknowledge
 * writes into a deleted file. The identity holds its own descriptor of the file, opened
 * *before* SQLite opens it: a later check that finds the inode unlinked (`nlink` 0) means the
 * tenant was destroyed or replaced (a rename over it unlinks the old inode too). One `fstat`,
 * no path lookup: cheap enough for every scope entry.
 */
export class FileIdentity {
  private fd: number

  private constructor(fd: number) {
    this.fd = fd
  }

  /** Opens a descriptor on `file` (throws `ENOENT` when there is none). */
  static of(file: string): FileIdentity {
    return new FileIdentity(openSync(file, 'r'))
  }

  /** True while the file this identity was taken of is still linked in the file system. */
  isLinked(): boolean {
    if (this.fd < 0) return false
    return fstatSync(this.fd).nlink > 0
  }

  /** Releases the descriptor (idempotent). */
  close(): void {
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
  }
}
