import { TableKeys } from '../crypto/table-keys.js';
import { normaliseIpForVisitor } from '../enrich/visitor.js';

interface Bucket {
  tokens: number;
  updated: number;
}

/**
 * A token bucket per client. The client is known only by a keyed hash of its address under a
 * secret that lives in this process's memory, so the table holds no address and nothing that
 * could be reversed into one after a restart.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly keys = new TableKeys();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly maxClients = 100_000,
  ) {}

  /**
   * Takes `cost` tokens; returns 0 when allowed, else the seconds to wait. An IPv6 client is its
   * /64, as for the visitor id: one subscriber holds a whole /64 and could otherwise rotate.
   */
  take(client: string, cost = 1, now = Date.now()): number {
    const key = this.keys.of(normaliseIpForVisitor(client));
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, updated: now };
    bucket.tokens = Math.min(
      this.burst,
      bucket.tokens + ((now - bucket.updated) / 1000) * this.perSecond,
    );
    bucket.updated = now;

    if (bucket.tokens < cost) {
      this.store(key, bucket);

      return Math.max(1, Math.ceil((cost - bucket.tokens) / this.perSecond));
    }

    bucket.tokens -= cost;
    this.store(key, bucket);

    return 0;
  }

  private store(key: string, bucket: Bucket): void {
    if (!this.buckets.has(key) && this.buckets.size >= this.maxClients) this.sweep(bucket.updated);
    this.buckets.set(key, bucket);
  }

  /** Drops buckets that have refilled completely: they hold no information any more. */
  private sweep(now: number): void {
    const full = (this.burst / this.perSecond) * 1000;
    for (const [key, bucket] of this.buckets)
      if (now - bucket.updated > full) this.buckets.delete(key);
    if (this.buckets.size >= this.maxClients) this.buckets.clear();
  }
}
