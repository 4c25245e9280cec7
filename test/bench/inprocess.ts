/**
 * The in-process half of `npm run bench`, run by run.ts as a child process
 * (so the functions' log lines go to its own stdout, which run.ts discards,
 * and never mix with the benchmark's JSON). It imports the real bundles, built
 * with the stack's bundling options, as Lambda would, and measures against an
 * in-memory DynamoDB Local:
 *
 * - the warm API-key authorizer against a bare consistent GetItem (the bare-SDK
 *   bundle), interleaved in random order, on a 10-key table and on a table
 *   holding `scaleKeys` keys; the keys' app is on a plan, so each verification
 *   also returns the gateway key (`usageIdentifierKey`) from the same read. On
 *   the large table nearly every verification is
 *   of a key not seen before, so each one also records lastUsedAt: the
 *   authorizer starts that write after it has answered. Every step is
 *   followed by a drain (until no HTTP request is in flight), so such a write
 *   never lands inside the next measured step; the drain's length after a
 *   verification is reported as the write's own time;
 * - with a legacy key pattern configured (imported keys): a legacy key's
 *   verification, interleaved with the others;
 * - the create-key handler end to end.
 *
 * Rejections are measured in a process of their own (rejections.ts).
 *
 * Plaintext keys stay in this process's memory: none is printed or written.
 */
import { randomBytes } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import { pathToFileURL } from 'node:url';
import { createHash } from 'node:crypto';
import { BatchWriteItemCommand, DynamoDBClient, PutItemCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayRequestAuthorizerEvent, Context } from 'aws-lambda';
import { ENV } from '../../lib/shared/environment';
import { DEFAULT_AUTH_SETTINGS, legacyKeysEnvironment } from '../../lib/shared/auth-settings';
import { cachedPepper, createHasher } from '../../functions/domain/hashing';
import { randomId } from '../../functions/domain/ids';
import { createSealer, sealedKey, type Sealer } from '../../functions/domain/seal';
import { keyHashItemKey } from '../../lib/shared/item-keys';
import { KeyStore } from '../../functions/stores/key-store';
import { credentialFormat } from '../../functions/domain/credential-format';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../lib/local/dynamodb-local';
import { ensureTables, tableNames } from '../../lib/local/tables';
import { apiKeyEvent } from '../support/events';
import { LAMBDA_CONTEXT, LEGACY_KEYS, legacyKey } from './authorizer-inputs';
import { nowMs, percentile, round, shuffle } from './stats';

export interface InProcessOptions {
  /** Bundle paths. */
  readonly authorizerBundle: string;
  readonly createKeyBundle: string;
  readonly bareSdkBundle: string;
  /** Keys in the large table. */
  readonly scaleKeys: number;
  /** Samples of each of the four interleaved measurements. */
  readonly samples: number;
  readonly createSamples: number;
}

export interface InProcessResult {
  readonly verifyP50Ms: number;
  readonly verifyP99Ms: number;
  readonly getItemP50Ms: number;
  readonly getItemP99Ms: number;
  readonly verifyOverheadP50Ratio: number;
  readonly verifyOverheadP99Ratio: number;
  readonly verifySamples: number;
  readonly getItemSamples: number;
  readonly scaleKeys: number;
  readonly scaleLoadSeconds: number;
  readonly scaleLoadItemsPerSecond: number;
  readonly verifyLargeP50Ms: number;
  readonly verifyLargeP99Ms: number;
  readonly getItemLargeP50Ms: number;
  /** verify p50 on the large table ÷ verify p50 on the 10-key table. */
  readonly scaleRatio: number;
  /** The same for the bare GetItem: what DynamoDB Local itself does with table size. */
  readonly getItemScaleRatio: number;
  readonly createKeyP50Ms: number;
  readonly createKeyP99Ms: number;
  readonly createKeySamples: number;
  /**
   * HTTP requests made while a valid-key verification runs, until it answers: 1 (its GetItem). Proves the
   * counter sees the handler's calls, and that the lastUsedAt write is not among them.
   */
  readonly verifyDbCallsPerVerify: number;
  /** verify p50 / p99 on the large table (last-used writes on every new key) ÷ bare GetItem p50 / p99 on the same table. */
  readonly lastUsedVerifyP50Ratio: number;
  readonly lastUsedVerifyP99Ratio: number;
  readonly getItemLargeP99Ms: number;
  /** Distinct keys among the large-table verifications, and the lastUsedAt writes (UpdateItem) they caused. */
  readonly lastUsedDistinctKeys: number;
  readonly lastUsedWrites: number;
  /** Time from the authorizer's answer until its lastUsedAt write finished, p50 (off the request path). */
  readonly lastUsedWriteP50Ms: number;
  /** Mean CPU µs of this process per warm verification, and per bare GetItem: the handler's own work is the difference. */
  readonly verifyCpuMicros: number;
  readonly getItemCpuMicros: number;
  /** An imported legacy key (SHA-256 then HMAC, one GetItem) on the 10-key table. */
  readonly legacyVerifyP50Ms: number;
  readonly legacyVerifyP99Ms: number;
  /** legacy verify p50 ÷ keygate-key verify p50, same table, interleaved. */
  readonly legacyVerifyP50Ratio: number;
}

type Authorizer = (
  event: APIGatewayRequestAuthorizerEvent,
  context?: Context,
) => Promise<{ policyDocument: { Statement: { Effect: string }[] }; context: Record<string, string>; usageIdentifierKey?: string }>;
type CreateKey = (input: unknown) => Promise<{ apiKey: string; keyId: string }>;
type BareGetItem = (event: { tableName: string; pk: string; sk: string }) => Promise<boolean>;

const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const APP = 'bench';
/** The bench app is on a plan: every hash item carries its gateway key, which the authorizer returns from its one read. */
const GATEWAY_KEY = 'benchGatewayKey0000000000000000000000000';
const SMALL_TABLE_KEYS = 10;

/** Every HTTP request this process starts: the SDK's Node handler and the authorizers' client (functions/aws-http) both go through node:http. */
let httpRequests = 0;
let updateItemRequests = 0;
let inFlight = 0;
subscribe('http.client.request.start', (message) => {
  httpRequests++;
  const target = (message as { request?: { getHeader(name: string): unknown } }).request?.getHeader('x-amz-target');
  if (String(target).endsWith('.UpdateItem')) updateItemRequests++;
});
subscribe('http.client.request.created', () => {
  inFlight++;
});
for (const channel of ['http.client.response.finish', 'http.client.request.error']) {
  subscribe(channel, () => {
    inFlight--;
  });
}

/**
 * Waits until this process has no HTTP request in flight and a few turns of
 * the event loop passed quietly (a write the authorizer started with
 * setImmediate after answering creates its request a few turns later).
 * Returns the milliseconds it took.
 */
async function drain(): Promise<number> {
  const t0 = nowMs();
  for (let quiet = 0; quiet < 3; ) {
    await new Promise((resolve) => setImmediate(resolve));
    quiet = inFlight > 0 ? 0 : quiet + 1;
  }
  return nowMs() - t0;
}

/**
 * Imports a bundle as a separate module instance bound to the given keys
 * table. The functions read their table name at module scope, as in Lambda,
 * so each instance is configured through the environment at import time.
 */
async function importBundle<T>(bundle: string, keysTable: string, instance: string, env: Record<string, string> = {}): Promise<T> {
  process.env[ENV.keysTable] = keysTable;
  Object.assign(process.env, env);
  try {
    const module = (await import(`${pathToFileURL(bundle).href}?instance=${instance}`)) as { handler: T };
    return module.handler;
  } finally {
    for (const name of Object.keys(env)) delete process.env[name];
  }
}

async function loadKeys(
  client: DynamoDBClient,
  table: string,
  count: number,
  hash: (key: string) => Promise<string>,
  sealer: Sealer,
): Promise<{ keys: string[]; seconds: number }> {
  const format = credentialFormat('kg');
  const keys: string[] = [];
  const requests: WriteRequest[] = [];
  const createdAt = new Date().toISOString();
  for (let i = 0; i < count; i++) {
    const apiKey = format.generate();
    const keyHash = await hash(apiKey);
    const keyId = randomId('key');
    // The hash item create-key writes, the only item the authorizer reads. The app items (one partition,
    // `app#<appUid>`, read by list and delete only) are left out: they would double the load time and
    // change nothing for a GetItem on another partition key.
    requests.push({
      PutRequest: {
        Item: {
          pk: { S: keyHashItemKey(keyHash).pk },
          sk: { S: keyHashItemKey(keyHash).sk },
          keyId: { S: keyId },
          appUid: { S: APP },
          seal: { S: await sealer.seal(sealedKey(keyHash, { appUid: APP, keyId, gatewayKey: GATEWAY_KEY })) },
          name: { S: `bench key ${i}` },
          displayPrefix: { S: format.displayPrefix(apiKey) },
          createdAt: { S: createdAt },
          gatewayKey: { S: GATEWAY_KEY },
        },
      },
    });
    keys.push(apiKey);
  }
  const batches: WriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += 25) batches.push(requests.slice(i, i + 25));

  const t0 = nowMs();
  let next = 0;
  let written = 0;
  let lastReport = t0;
  const writer = async () => {
    for (;;) {
      const index = next++;
      if (index >= batches.length) return;
      let pending: WriteRequest[] = batches[index]!;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 20 * 2 ** attempt)));
        const { UnprocessedItems } = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
        const left = UnprocessedItems?.[table] ?? [];
        written += pending.length - left.length;
        pending = left;
      }
      if (nowMs() - lastReport > 5000) {
        lastReport = nowMs();
        progress(`  loaded ${written} of ${requests.length} items (${Math.round(written / ((lastReport - t0) / 1000))} items/s)`);
      }
    }
  };
  // DynamoDB Local answers each batch on its own thread; a few more in flight than cores keeps it busy.
  await Promise.all(Array.from({ length: 16 }, writer));
  return { keys, seconds: (nowMs() - t0) / 1000 };
}

function withContext(authorize: Authorizer): Authorizer {
  return (event) => authorize(event, LAMBDA_CONTEXT);
}

function isAllow(result: Awaited<ReturnType<Authorizer>>): boolean {
  return result.policyDocument.Statement[0]?.Effect === 'Allow' && result.context.appUid === APP && result.usageIdentifierKey === GATEWAY_KEY;
}

export async function runInProcess(options: InProcessOptions): Promise<InProcessResult> {
  const pepper = randomBytes(32).toString('base64url');
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    [ENV.localPepper]: pepper,
  });
  // Metrics on, as deployed: the functions' EMF records go to this process's stdout, which run.ts discards.
  delete process.env.POWERTOOLS_METRICS_DISABLED;
  delete process.env[ENV.pepperSecretId];
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;

  progress('starting DynamoDB Local (in memory)');
  const dynamodb: DynamoDbLocal = await startDynamoDbLocal();
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamodb.endpoint;
  const client = new DynamoDBClient({ endpoint: dynamodb.endpoint, maxAttempts: 10 });
  try {
    const small = tableNames(`bench-small-${randomBytes(3).toString('hex')}`);
    const large = tableNames(`bench-large-${randomBytes(3).toString('hex')}`);
    const creates = tableNames(`bench-create-${randomBytes(3).toString('hex')}`);
    await Promise.all([ensureTables(client, small), ensureTables(client, large), ensureTables(client, creates)]);

    // Called as Lambda calls them, with a context: every invocation hands it to the logger and counts a verification.
    const authorizeSmall = withContext(await importBundle<Authorizer>(options.authorizerBundle, small.Keys, 'small'));
    const authorizeLarge = withContext(await importBundle<Authorizer>(options.authorizerBundle, large.Keys, 'large'));
    const createSmall = await importBundle<CreateKey>(options.createKeyBundle, small.Keys, 'small');
    const createBench = await importBundle<CreateKey>(options.createKeyBundle, creates.Keys, 'create');
    const authorizeLegacy = await importBundle<Authorizer>(options.authorizerBundle, small.Keys, 'legacy', legacyKeysEnvironment({ ...DEFAULT_AUTH_SETTINGS, legacyKeys: LEGACY_KEYS }));
    // One bare client per table, as there is one authorizer instance (and client) per table: each client makes
    // exactly one call per round, so connection reuse and JIT warmth are the same on both sides.
    const bareGetItem = await importBundle<BareGetItem>(options.bareSdkBundle, small.Keys, 'bare-small');
    const bareGetItemLarge = await importBundle<BareGetItem>(options.bareSdkBundle, large.Keys, 'bare-large');
    const hash = createHasher(cachedPepper(async () => pepper));
    const sealer = createSealer(cachedPepper(async () => pepper));

    // The 10-key table, through the create-key function itself.
    const smallKeys: { apiKey: string; itemKey: { pk: string; sk: string } }[] = [];
    for (let i = 0; i < SMALL_TABLE_KEYS; i++) {
      const { apiKey } = await createSmall({ appUid: APP, name: `small ${i}` });
      smallKeys.push({ apiKey, itemKey: keyHashItemKey(await hash(apiKey)) });
    }
    // As set-app-plan leaves them, by its own write: the app's gateway key on each hash item, each resealed.
    await new KeyStore(DynamoDBDocumentClient.from(client), small.Keys, sealer).setGatewayKeyOnKeys(APP, GATEWAY_KEY);

    // One imported legacy key, stored as import-keys stores a SHA-256 import into an app on a plan (with the app's gateway key, which isAllow checks).
    const imported = legacyKey();
    const importedHash = await hash(`sha256:${createHash('sha256').update(imported).digest('hex')}`);
    const importedKeyId = randomId('key');
    await client.send(
      new PutItemCommand({
        TableName: small.Keys,
        Item: {
          ...Object.fromEntries(Object.entries(keyHashItemKey(importedHash)).map(([name, value]) => [name, { S: value }])),
          keyId: { S: importedKeyId },
          appUid: { S: APP },
          seal: { S: await sealer.seal(sealedKey(importedHash, { appUid: APP, keyId: importedKeyId, gatewayKey: GATEWAY_KEY })) },
          name: { S: 'imported' },
          displayPrefix: { S: '(sha256 import)' },
          createdAt: { S: new Date().toISOString() },
          importedFrom: { S: 'keyHash' },
          gatewayKey: { S: GATEWAY_KEY },
        },
      }),
    );

    progress(`loading ${options.scaleKeys} keys into the large table with parallel BatchWriteItem`);
    const loaded = await loadKeys(client, large.Keys, options.scaleKeys, hash, sealer);
    const largeKeys = loaded.keys;
    progress(`  loaded in ${loaded.seconds.toFixed(1)} s (${Math.round(options.scaleKeys / loaded.seconds)} items/s)`);

    progress(`create-key: ${options.createSamples} calls`);
    const createTimes: number[] = [];
    for (let i = 0; i < options.createSamples + 20; i++) {
      const t0 = nowMs();
      const created = await createBench({ appUid: APP, name: `bench ${i}` });
      const elapsed = nowMs() - t0;
      if (!created.keyId) throw new Error('create-key returned no keyId');
      if (i >= 20) createTimes.push(elapsed);
    }

    // Warm every path (connections, JIT) before measuring.
    const event = (apiKey: string) => apiKeyEvent(apiKey, APP);
    for (let i = 0; i < 200; i++) {
      const smallKey = smallKeys[i % smallKeys.length]!;
      if (!isAllow(await authorizeSmall(event(smallKey.apiKey)))) throw new Error('a key of the small table was refused');
      if (!isAllow(await authorizeLegacy(event(imported)))) throw new Error('the imported legacy key was refused');
      if (!isAllow(await authorizeLarge(event(largeKeys[Math.floor(Math.random() * largeKeys.length)]!)))) throw new Error('a key of the large table was refused');
      if (!(await bareGetItem({ tableName: small.Keys, ...smallKey.itemKey }))) throw new Error('bare GetItem found no item');
      if (await bareGetItemLarge({ tableName: large.Keys, ...smallKey.itemKey })) throw new Error('bare GetItem found an item of the other table');
    }

    progress(`verify vs GetItem: ${options.samples} samples each on the ${SMALL_TABLE_KEYS}-key and the ${options.scaleKeys}-key tables, interleaved`);
    const largeHash = new Map<string, { pk: string; sk: string }>();
    const times = { verifySmall: [] as number[], getSmall: [] as number[], verifyLarge: [] as number[], getLarge: [] as number[], verifyLegacy: [] as number[] };
    // CPU time this process spends per call (the handler's or the bare client's own work, DynamoDB Local excluded).
    const cpuMicros = { verifySmall: 0, getSmall: 0, verifyLarge: 0, getLarge: 0, verifyLegacy: 0 };
    const legacyEvent = event(imported);
    let verifyCalls = 0;
    let verifyRequests = 0;
    let refused = 0;
    const largeKeysUsed = new Set<string>();
    const writeTimes: number[] = [];
    await drain();
    const updatesBefore = updateItemRequests;
    for (let round = 0; round < options.samples; round++) {
      const smallKey = smallKeys[Math.floor(Math.random() * smallKeys.length)]!;
      const largeKey = largeKeys[Math.floor(Math.random() * largeKeys.length)]!;
      let largeItemKey = largeHash.get(largeKey);
      if (largeItemKey === undefined) {
        largeItemKey = keyHashItemKey(await hash(largeKey));
        largeHash.set(largeKey, largeItemKey);
      }
      const smallEvent = event(smallKey.apiKey);
      const largeEvent = event(largeKey);
      const steps: [keyof typeof times, () => Promise<boolean>][] = [
        ['verifySmall', async () => isAllow(await authorizeSmall(smallEvent))],
        ['getSmall', () => bareGetItem({ tableName: small.Keys, ...smallKey.itemKey })],
        ['verifyLarge', async () => isAllow(await authorizeLarge(largeEvent))],
        ['getLarge', () => bareGetItemLarge({ tableName: large.Keys, ...largeItemKey! })],
        ['verifyLegacy', async () => isAllow(await authorizeLegacy(legacyEvent))],
      ];
      for (const [name, step] of shuffle(steps)) {
        const before = httpRequests;
        const cpu = process.cpuUsage();
        const t0 = nowMs();
        const ok = await step();
        times[name].push(nowMs() - t0);
        const used = process.cpuUsage(cpu);
        cpuMicros[name] += used.user + used.system;
        if (!ok) refused++;
        // Counted before the drain: the requests made while the verification ran (its GetItem; the write comes after).
        if (name === 'verifySmall' || name === 'verifyLarge') {
          verifyCalls++;
          verifyRequests += httpRequests - before;
        }
        const updatesBeforeDrain = updateItemRequests;
        const drained = await drain();
        if (name === 'verifyLarge') largeKeysUsed.add(largeKey);
        if (updateItemRequests > updatesBeforeDrain) writeTimes.push(drained);
      }
      if (round > 0 && round % 1000 === 0) progress(`  ${round} rounds`);
    }
    if (refused > 0) throw new Error(`${refused} valid verifications or GetItems failed`);
    const lastUsedWrites = updateItemRequests - updatesBefore;

    const verifyP50Ms = percentile(times.verifySmall, 50);
    const getItemP50Ms = percentile(times.getSmall, 50);
    const verifyLargeP50Ms = percentile(times.verifyLarge, 50);
    const getItemLargeP50Ms = percentile(times.getLarge, 50);
    return {
      verifyP50Ms: round(verifyP50Ms),
      verifyP99Ms: round(percentile(times.verifySmall, 99)),
      getItemP50Ms: round(getItemP50Ms),
      getItemP99Ms: round(percentile(times.getSmall, 99)),
      verifyOverheadP50Ratio: round(verifyP50Ms / getItemP50Ms),
      verifyOverheadP99Ratio: round(percentile(times.verifySmall, 99) / percentile(times.getSmall, 99)),
      verifySamples: times.verifySmall.length,
      getItemSamples: times.getSmall.length,
      scaleKeys: largeKeys.length,
      scaleLoadSeconds: round(loaded.seconds, 1),
      scaleLoadItemsPerSecond: Math.round(largeKeys.length / loaded.seconds),
      verifyLargeP50Ms: round(verifyLargeP50Ms),
      verifyLargeP99Ms: round(percentile(times.verifyLarge, 99)),
      getItemLargeP50Ms: round(getItemLargeP50Ms),
      getItemLargeP99Ms: round(percentile(times.getLarge, 99)),
      lastUsedVerifyP50Ratio: round(verifyLargeP50Ms / getItemLargeP50Ms),
      lastUsedVerifyP99Ratio: round(percentile(times.verifyLarge, 99) / percentile(times.getLarge, 99)),
      lastUsedDistinctKeys: largeKeysUsed.size,
      lastUsedWrites,
      lastUsedWriteP50Ms: round(percentile(writeTimes, 50)),
      scaleRatio: round(verifyLargeP50Ms / verifyP50Ms),
      getItemScaleRatio: round(getItemLargeP50Ms / getItemP50Ms),
      createKeyP50Ms: round(percentile(createTimes, 50)),
      createKeyP99Ms: round(percentile(createTimes, 99)),
      createKeySamples: createTimes.length,
      verifyDbCallsPerVerify: round(verifyRequests / verifyCalls),
      verifyCpuMicros: round((cpuMicros.verifySmall + cpuMicros.verifyLarge) / (times.verifySmall.length + times.verifyLarge.length), 1),
      getItemCpuMicros: round((cpuMicros.getSmall + cpuMicros.getLarge) / (times.getSmall.length + times.getLarge.length), 1),
      legacyVerifyP50Ms: round(percentile(times.verifyLegacy, 50)),
      legacyVerifyP99Ms: round(percentile(times.verifyLegacy, 99)),
      legacyVerifyP50Ratio: round(percentile(times.verifyLegacy, 50) / verifyP50Ms),
    };
  } finally {
    client.destroy();
    await dynamodb.stop();
  }
}

// Run as a child of run.ts: options in, result out over IPC.
if (process.send) {
  process.once('message', (options: InProcessOptions) => {
    runInProcess(options).then(
      (result) => process.send!({ result }, () => process.exit(0)),
      (error: unknown) => process.send!({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, () => process.exit(1)),
    );
  });
}
