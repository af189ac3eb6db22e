/**
 * Per-key token buckets in this process's memory (the embedded store's rate limit, for a single
 * API server): `ratePerMinute` requests at once, refilled at ratePerMinute / 60 per second. The
 * Redis store runs the same arithmetic in a Lua script (redis.ts) so that every server shares it.
 */

interface Bucket {
  tokens: number;
  updated: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  constructor(private readonly maxKeys = 100_000) {}

  /** 0 when the request may go ahead (one token taken), else the seconds to wait. */
  take(keyId: string, ratePerMinute: number, now: number): number {
    let bucket = this.buckets.get(keyId);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.buckets.clear();
      bucket = { tokens: ratePerMinute, updated: now };
      this.buckets.set(keyId, bucket);
    }
    const perMs = ratePerMinute / 60_000;
    bucket.tokens = Math.min(ratePerMinute, bucket.tokens + Math.max(0, now - bucket.updated) * perMs);
    bucket.updated = Math.max(bucket.updated, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
  }
}
