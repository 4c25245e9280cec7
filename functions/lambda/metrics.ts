import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ENV } from '../../lib/shared/environment';
import { DEFAULT_METRICS_NAMESPACE, DIMENSION, ERROR_OUTCOME, METRIC, SERVICE_NAME, type CredentialKind } from '../../lib/shared/metrics';
import { KeygateError } from '../domain/errors';
import { logger } from './logger';

/**
 * The metrics every keygate function publishes (embedded metric format,
 * Powertools Metrics), counted by the shared adapters. A module of its own so
 * that functions which count nothing (whoami) do not carry it.
 */
const metrics = new Metrics({ serviceName: SERVICE_NAME, namespace: process.env[ENV.metricsNamespace] || DEFAULT_METRICS_NAMESPACE, logger });

/** One dimension set and the figures gathered for it since it was last written. */
export interface MetricSeries {
  readonly dimensions: Readonly<Record<string, string>>;
  readonly counts: Map<string, number>;
  /** Millisecond samples per metric name. */
  readonly samples: Map<string, number[]>;
}

export type SeriesWriter = (series: MetricSeries, timestamp: number) => void;

/** How often at most an authorizer writes its metrics: at 1,000 requests/s, one write per second instead of 1,000. */
export const METRICS_WRITE_INTERVAL_MS = 1000;

/**
 * Figures gathered between writes. Writing an EMF record with Powertools costs
 * ~12 µs of CPU and a few hundred bytes of log ingestion; an authorizer
 * refuses a malformed key in ~3 µs. So invocations add to in-memory series,
 * and the invocation that ends when nothing was written for `intervalMs`
 * writes them all. The first invocation after a quiet second is written at
 * once, so a lone request (or a test) sees its record immediately; figures
 * left over when a busy container goes quiet are written, with the time they
 * were gathered, by its next invocation (lost if Lambda ends the container
 * first: at most one interval's worth).
 */
export class MetricBatch {
  private readonly series = new Map<string, MetricSeries>();
  private readonly pending = new Set<MetricSeries>();
  private openedAt: number | undefined;
  private writtenAt = -Infinity;

  constructor(
    private readonly write: SeriesWriter,
    private readonly intervalMs = METRICS_WRITE_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The series of one dimension set, `key` naming it; callers on a hot path keep the series rather than ask again. */
  seriesFor(key: string, dimensions: Readonly<Record<string, string>>): MetricSeries {
    let found = this.series.get(key);
    if (!found) {
      found = { dimensions, counts: new Map(), samples: new Map() };
      this.series.set(key, found);
    }
    return found;
  }

  /**
   * Counts one event in `series`, with a millisecond sample of `sampleName`
   * if given; `immediately` writes now whatever the interval.
   */
  add(series: MetricSeries, countName: string, sampleName?: string, sampleMs = 0, immediately = false): void {
    const now = this.now();
    // Figures a container gathered before going quiet keep their own time rather than this invocation's.
    if (this.openedAt !== undefined && now - this.openedAt > 2 * this.intervalMs) this.writePending(this.openedAt);
    series.counts.set(countName, (series.counts.get(countName) ?? 0) + 1);
    if (sampleName !== undefined) {
      const values = series.samples.get(sampleName);
      if (values) values.push(sampleMs);
      else series.samples.set(sampleName, [sampleMs]);
    }
    this.pending.add(series);
    this.openedAt ??= now;
    if (immediately || now - this.writtenAt >= this.intervalMs) {
      this.writePending(this.openedAt);
      this.writtenAt = now;
    }
  }

  private writePending(timestamp: number): void {
    for (const series of this.pending) {
      this.write(series, timestamp);
      series.counts.clear();
      series.samples.clear();
    }
    this.pending.clear();
    this.openedAt = undefined;
  }
}

/** EMF allows at most 100 values of one metric in a record. */
const MAX_VALUES_PER_RECORD = 100;

/** Writes a series as EMF records through Powertools: its counts and up to 100 samples per record. */
function publish(series: MetricSeries, timestamp: number): void {
  for (let offset = 0, more = true; more; offset += MAX_VALUES_PER_RECORD) {
    more = false;
    metrics.setTimestamp(timestamp);
    for (const name in series.dimensions) metrics.addDimension(name, series.dimensions[name]!);
    if (offset === 0) for (const [name, count] of series.counts) metrics.addMetric(name, MetricUnit.Count, count);
    for (const [name, values] of series.samples) {
      const end = Math.min(values.length, offset + MAX_VALUES_PER_RECORD);
      for (let i = offset; i < end; i++) metrics.addMetric(name, MetricUnit.Milliseconds, values[i]!);
      if (values.length > end) more = true;
    }
    // Powertools writes a record by itself when a metric reaches 100 values; write the rest, if any.
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    else metrics.clearDimensions();
  }
}

const batch = new MetricBatch(publish);

/** Microsecond precision is plenty and keeps records short. */
const roundMs = (ms: number) => Math.round(ms * 1000) / 1000;

/**
 * Counts one authorizer's verifications by outcome, one per invocation:
 * `latencyMs` for credentials that were looked up (not for malformed ones).
 * Each outcome's series is kept by the counter, so counting allocates nothing.
 */
export function verificationCounter(credential: CredentialKind): (outcome: string, latencyMs?: number) => void {
  const byOutcome = new Map<string, MetricSeries>();
  return (outcome, latencyMs) => {
    let series = byOutcome.get(outcome);
    if (!series) {
      series = batch.seriesFor(`${credential} ${outcome}`, { [DIMENSION.credential]: credential, [DIMENSION.outcome]: outcome });
      byOutcome.set(outcome, series);
    }
    if (latencyMs === undefined) batch.add(series, METRIC.verifications);
    else batch.add(series, METRIC.verifications, METRIC.verificationLatency, roundMs(latencyMs));
  };
}

/** One admin operation, written at once: admin calls are rare and each one counts. */
export function recordAdminOperation(operation: string, outcome: string): void {
  const series = batch.seriesFor(`admin ${operation} ${outcome}`, { [DIMENSION.operation]: operation, [DIMENSION.outcome]: outcome });
  batch.add(series, METRIC.adminOperations, undefined, 0, true);
}

/** One report to the public revoke endpoint: how many well-formed keys it named and how many of them were revoked. */
export function recordRevocationReport(keysReported: number, keysRevoked: number): void {
  const series = batch.seriesFor('revocation', {});
  series.counts.set(METRIC.keysReported, (series.counts.get(METRIC.keysReported) ?? 0) + keysReported);
  series.counts.set(METRIC.keysRevoked, (series.counts.get(METRIC.keysRevoked) ?? 0) + keysRevoked);
  batch.add(series, METRIC.revocationReports, undefined, 0, true);
}

const lastUsedFailures = batch.seriesFor('last-used', {});

/**
 * One lastUsedAt write of the API-key authorizer that failed (the key was let
 * in all the same). Batched like verifications, since a DynamoDB throttling
 * storm can fail the write of every use: it goes out with the authorizer's
 * next write of its figures.
 */
export function recordLastUsedWriteFailure(): void {
  batch.add(lastUsedFailures, METRIC.lastUsedWriteFailures);
}

/** The `outcome` of a failed operation: its literal errorType, a small fixed set, or `error` for anything unexpected. */
export function failureOutcome(error: unknown): string {
  return error instanceof KeygateError ? error.name : ERROR_OUTCOME;
}
