// A consumer of the embedded backend: the claim loop (poll, wake on local enqueue), running
// claimed jobs with bounded concurrency, and renewing their leases.
import { randomUUID } from 'node:crypto'
import type {
  ConsumeOptions,
  JobConsumer,
  JobEnvelope,
  JobOutcome,
  JobProcessor,
} from './backend.js'
import type { EmbeddedBackend, Row } from './embedded-backend.js'
import { InvalidJobEnvelopeError } from './errors.js'

let claims = 0

/** Claims due jobs of some names and runs them, `concurrency` at a time. */
export class EmbeddedConsumer implements JobConsumer {
  // Keyed by claim (job id and token), not job id: if this process stalls past a lease, the same
  // job can be claimed again while its first run is still going, and close() must wait for both.
  private readonly running = new Map<string, { id: number; token: string; done: Promise<void> }>()
  private closed = false
  private signal: (() => void) | undefined
  private woken = false
  private readonly loopDone: Promise<void>
  private readonly claim: (limit: number, token: string) => Row[]
  private readonly nextDue: () => number | undefined
  private readonly prefix = randomUUID()
  private renewTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly backend: EmbeddedBackend,
    private readonly processor: JobProcessor,
    private readonly options: ConsumeOptions,
    private readonly onClosed: () => void,
  ) {
    this.claim = backend.claimer(options.names)
    this.nextDue = backend.nextDue(options.names)
    this.loopDone = this.loop()
  }

  wake(): void {
    this.woken = true
    const s = this.signal
    this.signal = undefined
    s?.()
  }

  async close(): Promise<void> {
    this.closed = true
    this.wake()
    await this.loopDone
    await Promise.all([...this.running.values()].map((r) => r.done))
    clearInterval(this.renewTimer)
    this.onClosed()
  }

  private async loop(): Promise<void> {
    // Start on a later turn: createWorker's caller attaches its listeners first.
    await new Promise<void>((resolve) => setImmediate(resolve))
    const { concurrency, onError } = this.options
    while (!this.closed) {
      this.woken = false
      const free = concurrency - this.running.size
      let wait = this.backend.pollIntervalMs
      if (free > 0) {
        try {
          const token = `${this.prefix}:${++claims}`
          const rows = this.claim(free, token)
          for (const row of rows) this.start(row, token)
          if (rows.length === free)
            wait = Number.POSITIVE_INFINITY // wait for a free slot
          else {
            const next = this.nextDue()
            if (next !== undefined) wait = Math.max(0, Math.min(wait, next - Date.now()))
          }
        } catch (error) {
          onError(error)
        }
      } else wait = Number.POSITIVE_INFINITY
      if (this.closed || this.woken) continue
      if (wait === 0) {
        await new Promise<void>((resolve) => setImmediate(resolve))
        continue
      }
      await new Promise<void>((resolve) => {
        const timer =
          wait === Number.POSITIVE_INFINITY ? undefined : setTimeout(() => this.wake(), wait)
        this.signal = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }

  private start(row: Row, token: string): void {
    let envelope: JobEnvelope
    try {
      envelope = {
        id: String(row.id),
        name: row.name,
        tenant: row.tenant,
        payload: JSON.parse(row.payload),
        attempt: row.attempts_made,
        maxAttempts: row.max_attempts,
      }
    } catch (error) {
      this.backend.fail(row, token, new InvalidJobEnvelopeError(String(error)))
      return
    }
    const done = this.processor(envelope).then(
      (outcome) => this.settle(row, token, outcome),
      (error) => this.settle(row, token, { ok: false, error, permanent: false }),
    )
    this.running.set(`${row.id}:${token}`, { id: row.id, token, done })
    this.renewTimer ??= setInterval(() => this.renew(), Math.max(10, this.backend.leaseMs / 3))
  }

  private settle(row: Row, token: string, outcome: JobOutcome): void {
    try {
      this.backend.finish(row, token, outcome)
    } catch (error) {
      this.options.onError(error)
    }
    this.running.delete(`${row.id}:${token}`)
    if (this.running.size === 0) {
      clearInterval(this.renewTimer)
      this.renewTimer = undefined
    }
    this.wake()
  }

  private renew(): void {
    try {
      this.backend.renew([...this.running.values()].map((r) => [r.id, r.token] as [number, string]))
    } catch (error) {
      this.options.onError(error)
    }
  }
}
