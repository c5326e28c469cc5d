/**
 * One alarm per actor, several users of it (the archive drain, inbox notification retries). Each says
 * when it wants to be woken; the storage alarm is set to the earliest wish and never moved later by
 * someone else's, and a user that is done withdraws only its own wish. When the alarm fires, every
 * wish is spent: each user's wake handler runs and wishes again if it still has work.
 *
 * `want` calls `setAlarm` synchronously (no await before it), so a wish made inside a write's turn is
 * part of that write's implicit transaction (used by the inbox notifications, see room-inbox-link.ts).
 */
import type * as Party from "partykit/server";

export class AlarmClock {
  private readonly wishes = new Map<string, number>();
  /** What the storage alarm is set to, as far as this instance knows (loaded in `load`). */
  private planned: number | null = null;

  constructor(private readonly storage: Party.Storage) {}

  /** Learn the alarm a previous instance left (after a restart), so a later wish never postpones it. */
  async load(): Promise<void> {
    this.planned = await this.storage.getAlarm();
  }

  want(who: string, at: number): Promise<void> {
    this.wishes.set(who, at);
    if (this.planned !== null && this.planned <= at) return Promise.resolve();
    // After a failed set nothing is known to be planned: the earliest wish still owed is set, not just this one.
    return this.set(this.planned === null ? Math.min(...this.wishes.values()) : at);
  }

  /** `who` needs no wake-up any more; the alarm moves to the next wish, or goes. */
  withdraw(who: string): Promise<void> {
    if (!this.wishes.delete(who)) return Promise.resolve();
    const next = Math.min(...this.wishes.values());
    if (next === Infinity) {
      this.planned = null;
      return this.storage.deleteAlarm();
    }
    if (this.planned === next) return Promise.resolve();
    return this.set(next);
  }

  /**
   * Sets the storage alarm (synchronously: the call joins the caller's write turn). If the set fails the
   * alarm is not known to be planned any more, so the next wish sets it again instead of trusting it.
   */
  private set(at: number): Promise<void> {
    this.planned = at;
    return this.storage.setAlarm(at).catch((error: unknown) => {
      if (this.planned === at) this.planned = null;
      throw error;
    });
  }

  /** The alarm fired: every wish is spent (each handler wishes again if it must). */
  fired(): void {
    this.wishes.clear();
    this.planned = null;
  }
}
