/**
 * Recording when a key was last let in, off the request path. The authorizer
 * hands every key it allows to `record`, which returns at once; at most once
 * per key per `intervalMs` (per container) it starts the write, after the
 * current request's answer has been handed back (setImmediate). So
 * `lastUsedAt` is at most one interval older than the key's latest use,
 * unless a write failed (logged; the key is written again on its next use).
 *
 * In Lambda the write usually finishes before the container is frozen; if it
 * does not, it finishes on the next invocation or, if the container is never
 * thawed, is lost: the next container to see the key writes it again.
 */
export interface LastUsedRecorderOptions {
  readonly intervalMs: number;
  /** The write: a conditional UpdateItem that can never create an item (see stores/credential-lookup.ts). */
  readonly write: (keyHash: string, at: string) => Promise<void>;
  /** A write that failed; the decision it followed stands. */
  readonly onError: (error: unknown, keyId: string) => void;
  /** Keys remembered per container before old entries are dropped. @default 10000 */
  readonly maxTracked?: number;
  /** How the write is started after the answer. @default setImmediate */
  readonly defer?: (start: () => void) => void;
}

export type RecordUse = (keyHash: string, keyId: string, now: Date) => void;

export function lastUsedRecorder(options: LastUsedRecorderOptions): RecordUse {
  const { intervalMs, write, onError } = options;
  const maxTracked = options.maxTracked ?? 10_000;
  const defer = options.defer ?? ((start) => void setImmediate(start));
  /** keyHash → when this container last started writing it (ms), oldest first (an entry is moved to the end when renewed). */
  const written = new Map<string, number>();

  const forgetOld = (nowMs: number) => {
    // Oldest first, so the scan stops at the first entry still within the interval.
    for (const [keyHash, at] of written) {
      if (nowMs - at < intervalMs) break;
      written.delete(keyHash);
    }
    // Still full of keys all used within the interval: start over (a few early writes, bounded memory).
    if (written.size >= maxTracked) written.clear();
  };

  return (keyHash, keyId, now) => {
    const nowMs = now.getTime();
    const last = written.get(keyHash);
    if (last !== undefined && nowMs - last < intervalMs) return;
    if (last === undefined && written.size >= maxTracked) forgetOld(nowMs);
    written.delete(keyHash);
    written.set(keyHash, nowMs);
    const at = now.toISOString();
    defer(() => {
      write(keyHash, at).then(undefined, (error: unknown) => {
        // Not written: let the next use try again.
        if (written.get(keyHash) === nowMs) written.delete(keyHash);
        onError(error, keyId);
      });
    });
  };
}
