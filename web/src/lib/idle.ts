// Automatic logoff after inactivity (HIPAA), with a warning first. Pure: the caller feeds
// the clock through `tick` and user activity through `activity`, so it is tested without
// waiting.

export type IdleState = "active" | "warning" | "expired";

export class IdleTimer {
  private last: number;
  private state: IdleState = "active";

  /**
   * @param timeoutMs inactivity after which the session ends (the API's `idle_timeout`)
   * @param warnMs how long before that the warning shows
   */
  constructor(
    private readonly timeoutMs: number,
    private readonly warnMs: number,
    now: number,
    private readonly onChange: (state: IdleState, msLeft: number) => void,
  ) {
    this.last = now;
  }

  /** The user did something (a key, a click, an answered request). Ignored once expired. */
  activity(now: number): void {
    if (this.state === "expired") return;
    this.last = now;
    if (this.state === "warning") {
      this.state = "active";
      this.onChange("active", this.timeoutMs);
    }
  }

  /** Milliseconds until logoff. */
  left(now: number): number {
    return Math.max(0, this.timeoutMs - (now - this.last));
  }

  /** Advances to `now`, reporting a change of state (and every tick while warning). */
  tick(now: number): IdleState {
    if (this.state === "expired") return this.state;
    const left = this.left(now);
    if (left === 0) {
      this.state = "expired";
      this.onChange("expired", 0);
    } else if (left <= this.warnMs) {
      this.state = "warning";
      this.onChange("warning", left);
    }
    return this.state;
  }
}
