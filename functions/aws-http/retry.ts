/**
 * The SDK's standard retry mode as @smithy/core implements it (retries-2026
 * constants): full-jitter exponential backoff, `random × min(base × 2^retry,
 * 20 s)`, with a 1 s base for throttling; and a retry quota per client that
 * stops retrying when most calls fail (500 tokens, a retry costs 14, 5 after
 * throttling; a success gives back what its retries cost, or 1).
 */
const THROTTLING_CODES = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);
const TRANSIENT_CODES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);
const NODE_TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

const THROTTLING_DELAY_BASE_MS = 1000;
const MAX_DELAY_MS = 20_000;
const INITIAL_TOKENS = 500;
const RETRY_COST = 14;
const THROTTLING_RETRY_COST = 5;

type Classified = Error & { code?: string; cause?: unknown; $metadata?: { httpStatusCode?: number } };

export type RetryKind = 'throttling' | 'transient' | 'other';

/** Not `instanceof Error`: errors Node raises for a socket may come from another realm (a test runner's). */
const isError = (value: unknown): value is Classified => typeof value === 'object' && value !== null && typeof (value as Error).name === 'string';

/** Throttling and transient errors are retried; any other (4xx, and 5xx other than 500/502/503/504) is not, as in the SDK. */
export function retryKind(error: unknown, depth = 0): RetryKind {
  if (!isError(error)) return 'other';
  const e = error;
  const status = e.$metadata?.httpStatusCode;
  if (status === 429 || THROTTLING_CODES.has(e.name)) return 'throttling';
  if (e.name === 'AbortError') return 'other';
  if (TRANSIENT_CODES.has(e.name) || NODE_TRANSIENT_CODES.has(e.code ?? '') || TRANSIENT_STATUS.has(status ?? 0)) return 'transient';
  return depth < 10 && e.cause !== undefined && retryKind(e.cause, depth + 1) === 'transient' ? 'transient' : 'other';
}

export interface RetryPolicy {
  readonly maxAttempts: number;
  /** Backoff base for errors other than throttling. */
  readonly baseDelayMs: number;
}

/** `AWS_MAX_ATTEMPTS` as the SDK reads it, else the service's default. */
export function maxAttemptsFrom(env: Readonly<Record<string, string | undefined>>, fallback: number): number {
  const raw = env.AWS_MAX_ATTEMPTS;
  if (!raw) return fallback;
  const value = parseInt(raw, 10);
  if (Number.isNaN(value)) throw Object.assign(new Error(`Environment variable AWS_MAX_ATTEMPTS must be a number, got "${raw}"`), { name: 'ConfigurationError' });
  return value;
}

export class Retrier {
  private tokens = INITIAL_TOKENS;

  constructor(private readonly policy: RetryPolicy) {}

  async run<T>(attempt: () => Promise<T>): Promise<T> {
    let retries = 0;
    let lastCost: number | undefined;
    let totalRetryDelay = 0;
    for (;;) {
      try {
        const result = await attempt();
        this.tokens = Math.min(INITIAL_TOKENS, this.tokens + (lastCost ?? 1));
        return result;
      } catch (error) {
        const kind = retryKind(error);
        const cost = kind === 'throttling' ? THROTTLING_RETRY_COST : RETRY_COST;
        if (kind === 'other' || retries + 1 >= this.policy.maxAttempts || this.tokens < cost) {
          if (isError(error)) {
            const metadata = ((error as { $metadata?: Record<string, unknown> }).$metadata ??= {});
            Object.assign(metadata, { attempts: retries + 1, totalRetryDelay });
          }
          throw error;
        }
        this.tokens -= cost;
        lastCost = cost;
        const base = kind === 'throttling' ? THROTTLING_DELAY_BASE_MS : this.policy.baseDelayMs;
        const delay = Math.floor(Math.random() * Math.min(base * 2 ** retries, MAX_DELAY_MS));
        totalRetryDelay += delay;
        retries++;
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}
