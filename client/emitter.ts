/** A small typed event emitter: `on` returns an unsubscribe function. */
export class Emitter<M extends object> {
  #handlers: { [K in keyof M]?: Set<(payload: M[K]) => void> } = {};

  on<K extends keyof M>(name: K, handler: (payload: M[K]) => void): () => void {
    const set = this.#handlers[name] ?? new Set<(payload: M[K]) => void>();
    set.add(handler);
    this.#handlers[name] = set;
    return () => this.off(name, handler);
  }

  off<K extends keyof M>(name: K, handler: (payload: M[K]) => void): void {
    this.#handlers[name]?.delete(handler);
  }

  has<K extends keyof M>(name: K): boolean {
    return (this.#handlers[name]?.size ?? 0) > 0;
  }

  emit<K extends keyof M>(name: K, payload: M[K]): void {
    const set = this.#handlers[name];
    if (!set) return;
    for (const handler of [...set]) {
      try {
        handler(payload);
      } catch (error) {
        // An app handler's bug must not corrupt the client's state mid-update; rethrow it outside our
        // call stack, as EventTarget does, so it still surfaces as an uncaught error.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  clear(): void {
    this.#handlers = {};
  }
}
