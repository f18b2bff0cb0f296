/** What an {@link TenantEnterHook} is told: a scope has entered `tenant`. */
export interface TenantEnterEvent {
  /** The tenant entered. */
  readonly tenant: string
}

/** What a {@link TenantLeaveHook} is told: the scope that entered `tenant` is ending. */
export interface TenantLeaveEvent {
  /** The tenant left. */
  readonly tenant: string
  /** True when the scope's callback (or an enter hook) threw or rejected. */
  readonly failed: boolean
  /** What was thrown, when `failed`. */
  readonly error: unknown
  /** Milliseconds from the end of entering (the enter hooks) to now. */
  readonly durationMs: number
}

/** Called when a scope has entered a tenant, inside it (getters work), before its code runs. */
export type TenantEnterHook = (event: TenantEnterEvent) => void
/** Called when a scope that entered a tenant ends, still inside it, before its holds go. */
export type TenantLeaveHook = (event: TenantLeaveEvent) => void

/**
 * The registered hooks, immutable: registering or removing one makes a new set, and a scope
 * keeps the set it entered with, so every scope that ran `onEnter` hooks runs the matching
 * `onLeave` ones, whatever is registered meanwhile.
 */
export class EntryHooks {
  constructor(
    readonly enter: readonly TenantEnterHook[],
    readonly leave: readonly TenantLeaveHook[],
  ) {}

  /** Runs the enter hooks in registration order; returns the start time for {@link left}. */
  entered(tenant: string): number {
    const event: TenantEnterEvent = { tenant }
    for (let i = 0; i < this.enter.length; i++) this.enter[i]!(event)
    return performance.now()
  }

  /**
   * Runs the leave hooks in reverse registration order (like nested `finally` blocks). Their
   * errors go to `onError`: the scope's outcome is already decided.
   */
  left(
    tenant: string,
    startedAt: number,
    failed: boolean,
    error: unknown,
    onError: (error: unknown) => void,
  ): void {
    if (this.leave.length === 0) return
    const event: TenantLeaveEvent = {
      tenant,
      failed,
      error,
      durationMs: startedAt === 0 ? 0 : performance.now() - startedAt,
    }
    for (let i = this.leave.length - 1; i >= 0; i--) {
      try {
        this.leave[i]!(event)
      } catch (e) {
        onError(e)
      }
    }
  }

  /** A set with `hook` added to or removed from `kind`; `null` when nothing is left. */
  static with(
    hooks: EntryHooks | null,
    kind: 'enter' | 'leave',
    hook: TenantEnterHook | TenantLeaveHook,
    add: boolean,
  ): EntryHooks | null {
    const enter = hooks?.enter ?? []
    const leave = hooks?.leave ?? []
    const edit = (list: readonly any[]) =>
      add ? [...list, hook] : list.filter((h, i) => h !== hook || i !== list.lastIndexOf(hook))
    const next = new EntryHooks(
      kind === 'enter' ? edit(enter) : enter,
      kind === 'leave' ? edit(leave) : leave,
    )
    return next.enter.length === 0 && next.leave.length === 0 ? null : next
  }
}
