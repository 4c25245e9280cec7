/**
 * The rejection half of `npm run bench`, run by run.ts as a child process of
 * its own: a process that holds nothing but the API-key authorizer bundle, as
 * a Lambda container does, refusing values at a steady state. Process CPU
 * counts every thread, V8's compiler and collector threads included: after a
 * warm-up of 2,000 refusals, the next 20,000 still paid for the optimizing
 * compiler's work on V8's worker threads (4-6 µs of CPU per refusal against
 * 3-3.5 µs of wall clock); from 20,000 refusals on, CPU and wall clock agree
 * (2-2.5 µs). So it warms up with `WARM_UP` refusals and measures the next
 * `rejections` (100,000 by default).
 *
 * Two instances of the bundle: as deployed by default, and with a legacy key
 * pattern (imported keys). Every HTTP request the process starts is counted:
 * a refusal must make none. DynamoDB points at a closed loopback port, so a
 * request would also fail the run.
 */
import { randomBytes } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import { pathToFileURL } from 'node:url';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { ENV } from '../../lib/shared/environment';
import { DEFAULT_AUTH_SETTINGS, legacyKeysEnvironment } from '../../lib/shared/auth-settings';
import { credentialFormat } from '../../functions/domain/credential-format';
import { apiKeyEvent, authorizerEvent, methodArn } from '../support/events';
import { LAMBDA_CONTEXT, LEGACY_KEYS, legacyKey, neitherFormat, rejectedKeys } from './authorizer-inputs';
import { median, nowMs, round } from './stats';

export interface RejectionOptions {
  readonly authorizerBundle: string;
  /** Values refused per measurement, in 10 batches after a warm-up. */
  readonly rejections: number;
}

export interface RejectionResult {
  /** CPU µs of the process per refused malformed or bad-checksum key (median of 10 batches), and wall clock. */
  readonly rejectMicros: number;
  readonly rejectWallMicros: number;
  readonly rejectDbCalls: number;
  readonly rejections: number;
  /** The same for values of neither format, a legacy key pattern configured. */
  readonly legacyRejectMicros: number;
  readonly legacyRejectWallMicros: number;
  readonly legacyRejectDbCalls: number;
}

/** Refusals before measuring: enough for V8 to have finished optimizing the refusal path. */
const WARM_UP = 20_000;

type Authorizer = (event: APIGatewayRequestAuthorizerEvent, context?: unknown) => Promise<unknown>;

let httpRequests = 0;
subscribe('http.client.request.start', () => {
  httpRequests++;
});

async function importAuthorizer(bundle: string, instance: string, env: Record<string, string> = {}): Promise<Authorizer> {
  Object.assign(process.env, env);
  try {
    return ((await import(`${pathToFileURL(bundle).href}?instance=${instance}`)) as { handler: Authorizer }).handler;
  } finally {
    for (const name of Object.keys(env)) delete process.env[name];
  }
}

/** Refuses each value in turn, as API Gateway would call the authorizer: CPU and wall µs per refusal, and HTTP requests made. */
async function measure(authorize: Authorizer, values: readonly string[], rejections: number) {
  const events = values.map((value) => (value === '' ? authorizerEvent({}, methodArn('GET', 'bench', 'whoami')) : apiKeyEvent(value, 'bench')));
  const refuse = async (event: APIGatewayRequestAuthorizerEvent) => {
    try {
      await authorize(event, LAMBDA_CONTEXT);
    } catch (error) {
      if ((error as Error).message === 'Unauthorized') return;
      throw error;
    }
    throw new Error('a value of neither keygate nor legacy format was accepted');
  };
  for (let i = 0; i < WARM_UP; i++) await refuse(events[i % events.length]!);
  const requestsBefore = httpRequests;
  const cpu: number[] = [];
  const wall: number[] = [];
  const batchSize = Math.max(events.length, Math.floor(rejections / 10));
  for (let done = 0; done < rejections; done += batchSize) {
    const started = process.cpuUsage();
    const t0 = nowMs();
    for (let i = 0; i < batchSize; i++) await refuse(events[i % events.length]!);
    wall.push(((nowMs() - t0) * 1000) / batchSize);
    const used = process.cpuUsage(started);
    cpu.push((used.user + used.system) / batchSize);
  }
  return { micros: round(median(cpu), 2), wallMicros: round(median(wall), 2), dbCalls: httpRequests - requestsBefore, count: cpu.length * batchSize };
}

export async function runRejections(options: RejectionOptions): Promise<RejectionResult> {
  Object.assign(process.env, {
    [ENV.keysTable]: 'bench-rejections',
    [ENV.localPepper]: randomBytes(32).toString('base64url'),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    // Nothing listens there: a request would fail the run, besides being counted.
    AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
  });
  delete process.env[ENV.pepperSecretId];
  const valid = credentialFormat('kg').generate();
  const plain = await measure(await importAuthorizer(options.authorizerBundle, 'plain'), rejectedKeys(valid), options.rejections);
  const legacyAuthorizer = await importAuthorizer(options.authorizerBundle, 'legacy', legacyKeysEnvironment({ ...DEFAULT_AUTH_SETTINGS, legacyKeys: LEGACY_KEYS }));
  const legacy = await measure(legacyAuthorizer, neitherFormat(valid, legacyKey()), options.rejections);
  return {
    rejectMicros: plain.micros,
    rejectWallMicros: plain.wallMicros,
    rejectDbCalls: plain.dbCalls,
    rejections: plain.count,
    legacyRejectMicros: legacy.micros,
    legacyRejectWallMicros: legacy.wallMicros,
    legacyRejectDbCalls: legacy.dbCalls,
  };
}

// Run as a child of run.ts: options in, result out over IPC.
if (process.send) {
  process.once('message', (options: RejectionOptions) => {
    runRejections(options).then(
      (result) => process.send!({ result }, () => process.exit(0)),
      (error: unknown) => process.send!({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, () => process.exit(1)),
    );
  });
}
