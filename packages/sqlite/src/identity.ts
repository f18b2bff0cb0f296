import { statSync } from 'node:fs'

/**
 * Which file a handle has open. SQLite keeps writing to a database file that another process
 * unlinked (WAL mode never checks), so a handle opened before a destroy would acknowledge
 * writes into a deleted file. The identity records the file's device and inode, taken *before*
 * SQLite opens it: a later `stat` of the path that finds no file, or another inode, means the
 * tenant was destroyed or replaced (a rename over it puts another inode at the path). One
 * `stat` and no descriptor of its own (a descriptor per handle was a quarter of the process's
 * open files under a cap): cheap enough for every scope entry.
 */
export class FileIdentity {
  /** The path the identity was taken of. */
  readonly file: string
  private readonly dev: number
  private readonly ino: number
  private closed = false

  private constructor(file: string, dev: number, ino: number) {
    this.file = file
    this.dev = dev
    this.ino = ino
  }

  /** Records the identity of `file` (throws `ENOENT` when there is none). */
  static of(file: string): FileIdentity {
    const s = statSync(file)
    return new FileIdentity(file, s.dev, s.ino)
  }

  /** True while the path still names the file this identity was taken of. */
  isLinked(): boolean {
    if (this.closed) return false
    const s = statSync(this.file, { throwIfNoEntry: false })
    return s !== undefined && s.ino === this.ino && s.dev === this.dev
  }

  /** Ends the identity: it answers "unlinked" from now on (idempotent). */
  close(): void {
    this.closed = true
  }
}
