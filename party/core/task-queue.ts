/**
 * One task at a time, in arrival order: commands that must load state first keep their order (PROTOCOL I4), and a
 * reload after a failed write runs between commands, never under one. A failed task is logged; the next runs.
 */
export class TaskQueue {
  private tail: Promise<void> = Promise.resolve();
  private count = 0;

  constructor(private readonly onError: (error: unknown) => void) {}

  /** Tasks queued or running: the room decides a command at once only when this is 0. */
  get queued(): number {
    return this.count;
  }

  enqueue(task: () => Promise<void>): void {
    this.count++;
    this.tail = this.tail
      .then(task)
      .catch(this.onError)
      .then(() => void this.count--);
  }
}
