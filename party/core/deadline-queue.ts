/**
 * Deadlines by time, earliest first (a binary heap): one timer serves any number of them, so a room with
 * 20,000 sockets keeps no timer per socket. Pure: nothing here reads a clock.
 */
export class DeadlineQueue<T> {
  private readonly heap: Array<{ at: number; item: T }> = [];

  get size(): number {
    return this.heap.length;
  }

  /** The earliest deadline, if any. */
  get next(): number | undefined {
    return this.heap[0]?.at;
  }

  push(at: number, item: T): void {
    const heap = this.heap;
    heap.push({ at, item });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= heap[i]!.at) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  /** Removes and returns every item due at or before `now`, earliest first. */
  due(now: number): T[] {
    const out: T[] = [];
    while (this.heap.length > 0 && this.heap[0]!.at <= now) out.push(this.pop()!);
    return out;
  }

  private pop(): T | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && heap[left]!.at < heap[smallest]!.at) smallest = left;
        if (right < heap.length && heap[right]!.at < heap[smallest]!.at) smallest = right;
        if (smallest === i) break;
        [heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!];
        i = smallest;
      }
    }
    return top?.item;
  }
}
