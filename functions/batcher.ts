// Group commit for Firestore calls made in the same turn of the event loop: a burst of requests costs one
// round trip instead of one each. A lone call waits for nothing (the flush runs on setImmediate).
export class TickBatcher<I, R> {
  private queue: {
    item: I;
    resolve: (r: R) => void;
    reject: (e: unknown) => void;
  }[] = [];
  private scheduled = false;

  constructor(
    /** Executes a whole batch; returns one result per item, in order. */
    private readonly run: (items: I[]) => Promise<R[]>,
    private readonly maxBatch = 500,
  ) {}

  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({item, resolve, reject});
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.queue;
    this.queue = [];
    for (let i = 0; i < all.length; i += this.maxBatch) {
      const chunk = all.slice(i, i + this.maxBatch);
      this.run(chunk.map(c => c.item)).then(
        results => chunk.forEach((c, k) => c.resolve(results[k]!)),
        (err: unknown) => chunk.forEach(c => c.reject(err)),
      );
    }
  }
}
