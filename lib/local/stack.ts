import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { corsOriginProblem } from '../shared/cors';
import { ENV } from '../shared/environment';
import { ADMIN_FUNCTIONS, FUNCTIONS, type FunctionId } from '../shared/functions';
import { authSettingsFromEnvironment, type AuthSettings } from '../shared/auth-settings';
import { planRouteKeys, plansInForce, plansProblem, type PlanDefinition } from '../shared/plans';
import { authorizerDefinitions, ROUTES } from '../shared/routes';
import { buildFunctions } from '../build/bundles';
import { freePort, isDynamoDbLocalOn, loopbackLauncher, requireJava17, startDynamoDbLocal } from './dynamodb-local';
import { startFunctionHost, type FunctionHost } from './function-host';
import { createLocalGateway } from './gateway';
import { createLocalApiGatewayApi, LocalGatewayKeyRegistry } from './gateway-keys';
import { UsagePlanEnforcer } from './usage-plans';
import { ensurePrivateDirectory, homePaths, localPepper, newLambdaApiSecret, processIsAlive, readLocalStackInfo, removeFile, writeJsonAtomically, type LocalStackInfo } from './home';
import { createLocalLambdaApi } from './lambda-api';
import { LOOPBACK_HOST } from './loopback';
import { invokeHandler, LOCAL_REGION, type LambdaHandler } from './lambda-runtime';
import { ensureTables, tableNames } from './tables';

/**
 * The whole system on one machine: DynamoDB Local on disk, every function
 * built with the stack's bundling options and run from those bundles, the
 * local API Gateway on `port` and the Lambda Invoke API on `lambdaPort`.
 */
export interface LocalStackOptions {
  /** Data folder (see keygateHome()). */
  readonly home: string;
  /** API port; 0 picks a free one. @default 3000 */
  readonly port?: number;
  /** Lambda Invoke API port; 0 picks a free one. @default 3001 */
  readonly lambdaPort?: number;
  /** DynamoDB Local port. @default a free port */
  readonly dynamodbPort?: number;
  /** Request and function-failure lines. */
  readonly log?: (line: string) => void;
  /** Plans the local gateway enforces, as the stack's `plans` prop. @default DEFAULT_PLANS, as KeygateStack */
  readonly plans?: readonly PlanDefinition[];
  /** The plan an app without one gets. @default 'free' with the default plans, else none */
  readonly defaultPlan?: string;
  /** Origins the session routes answer CORS for (the construct's `corsAllowedOrigins`). @default [] */
  readonly corsAllowedOrigins?: readonly string[];
}

/** Environment of `npm start` naming the plans: KEYGATE_PLANS (JSON list of plans) and KEYGATE_DEFAULT_PLAN ('' for none). */
export const PLANS_ENV = 'KEYGATE_PLANS';
export const DEFAULT_PLAN_ENV = 'KEYGATE_DEFAULT_PLAN';

/** The plans and default plan `npm start` runs with, from its environment; throws one line naming the variable. */
export function plansFromEnv(env: Readonly<Record<string, string | undefined>>): { plans?: PlanDefinition[]; defaultPlan?: string } {
  const raw = env[PLANS_ENV];
  const defaultPlan = env[DEFAULT_PLAN_ENV];
  let plans: PlanDefinition[] | undefined;
  if (raw !== undefined && raw !== '') {
    try {
      plans = JSON.parse(raw) as PlanDefinition[];
    } catch {
      throw new Error(`${PLANS_ENV} must be a JSON list of plans, e.g. [{"name":"free","rateLimit":10,"burstLimit":20}]`);
    }
  }
  return { ...(plans && { plans }), ...(defaultPlan !== undefined && { defaultPlan }) };
}

/** The local usage plan id of a plan. */
export const localUsagePlanId = (name: string) => `local-${name}`;

export interface LocalStack {
  readonly info: LocalStackInfo;
  /** Scope, base path, API-key header and legacy key pattern, read from the same variables the construct sets on the functions. */
  readonly auth: AuthSettings;
  /** The demo key, only on the start that created it: it is stored nowhere. */
  readonly demo: { readonly appUid: string; readonly keyId: string; readonly apiKey?: string };
  /** Milliseconds from start to serving. */
  readonly startupMs: number;
  /** Milliseconds per start-up phase (DynamoDB Local and the build run side by side). */
  readonly phases: Readonly<Record<string, number>>;
  stop(): Promise<void>;
}

export const LOCAL_TABLE_STEM = 'keygate';
export const DEMO_APP = 'demo';

export class StackAlreadyRunning extends Error {}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const t0 = Date.now();
  const paths = homePaths(options.home);
  const log = options.log ?? (() => undefined);
  const corsAllowedOrigins = [...new Set(options.corsAllowedOrigins ?? [])];
  for (const origin of corsAllowedOrigins) {
    const problem = corsOriginProblem(origin);
    if (problem) throw new Error(`${ENV.corsAllowedOrigins}: ${problem}`);
  }
  ensurePrivateDirectory(paths.home);
  const running = readLocalStackInfo(paths.home);
  if (running && running.pid !== process.pid && processIsAlive(running.pid)) {
    throw new StackAlreadyRunning(`a keygate local stack is already running from ${paths.home} (pid ${running.pid}, ${running.apiUrl}); stop it first`);
  }
  if (running) await stopOrphanedDynamoDb(running.dynamodbPid, paths.dynamodb, log);

  // The functions read these from the environment they inherit; the gateway needs the same to route and to require identity sources.
  const auth = authSettingsFromEnvironment(process.env);
  const inForce = plansInForce(options.plans, options.defaultPlan);
  const plans = inForce.plans;
  // '' (KEYGATE_DEFAULT_PLAN='') means none.
  const defaultPlan = inForce.defaultPlan || undefined;
  const plansIssue = plansProblem(plans, defaultPlan, planRouteKeys(ROUTES));
  if (plansIssue) throw new Error(`${PLANS_ENV}: ${plansIssue}`);

  // Fail on a missing Java or JDK before building anything: one clear line.
  await requireJava17();
  await loopbackLauncher(paths.java);
  const phases: Record<string, number> = {};

  const tables = tableNames(LOCAL_TABLE_STEM);
  const dynamodbPort = options.dynamodbPort || (await freePort());
  const dynamodbEndpoint = `http://${LOOPBACK_HOST}:${dynamodbPort}`;
  // The bundles read their configuration at module scope, as in Lambda: set it before importing them.
  Object.assign(process.env, {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint,
    // The SDK's notice that its 2027 releases need Node 22 is about upgrades, not this run; the Lambdas run Node 24.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    [ENV.keysTable]: tables.Keys,
    [ENV.sessionsTable]: tables.Sessions,
    [ENV.usersTable]: tables.Users,
    [ENV.localPepper]: localPepper(paths.home),
    // EMF metric records mean nothing without CloudWatch; POWERTOOLS_METRICS_DISABLED=false shows them.
    POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
    // The session-route functions answer CORS for these, as deployed (the construct gives it to them alone).
    [ENV.corsAllowedOrigins]: corsAllowedOrigins.join(','),
  });
  delete process.env[ENV.pepperSecretId];
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;

  const stoppers: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stoppers.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    // API Gateway's key calls, emulated before the functions load: they read its endpoint and the plans at module scope, as in Lambda.
    const registry = new LocalGatewayKeyRegistry(plans.map((plan) => localUsagePlanId(plan.name)), paths.gatewayKeys);
    const apiGatewayApi = createLocalApiGatewayApi(registry, log);
    const apiGatewayPort = await listen(apiGatewayApi, 0, 'the API Gateway API');
    stoppers.push(() => close(apiGatewayApi));
    const apiGatewayEndpoint = `http://${LOOPBACK_HOST}:${apiGatewayPort}`;
    process.env.AWS_ENDPOINT_URL_API_GATEWAY = apiGatewayEndpoint;
    if (plans.length > 0) process.env[ENV.usagePlans] = JSON.stringify(Object.fromEntries(plans.map((plan) => [plan.name, localUsagePlanId(plan.name)])));
    else delete process.env[ENV.usagePlans];
    if (defaultPlan !== undefined) process.env[ENV.defaultPlan] = defaultPlan;
    else delete process.env[ENV.defaultPlan];
    const usagePlans = plans.length > 0 ? new UsagePlanEnforcer(plans.map((definition) => ({ definition, usagePlanId: localUsagePlanId(definition.name) })), registry) : undefined;

    // Java starts while esbuild builds; wait for both, so a started DynamoDB Local is stopped if the build fails.
    const timed = async <T>(phase: string, promise: Promise<T>) => {
      const at = Date.now();
      const value = await promise;
      phases[phase] = Date.now() - at;
      return value;
    };
    const [started, loaded] = await Promise.allSettled([
      timed('dynamodb', startDynamoDbLocal({ port: dynamodbPort, dataDir: paths.dynamodb, launcherCacheDir: paths.java })),
      loadFunctions(phases, log),
    ]);
    if (started.status === 'fulfilled') stoppers.push(() => started.value.stop());
    if (loaded.status === 'fulfilled') stoppers.push(() => loaded.value.stop());
    if (started.status === 'rejected') throw started.reason;
    if (loaded.status === 'rejected') throw loaded.reason;
    const dynamodb = started.value;
    const handlers = loaded.value.handlers;

    const client = new DynamoDBClient({ endpoint: dynamodbEndpoint });
    try {
      await timed('tables', ensureTables(client, tables));
    } finally {
      client.destroy();
    }

    const gateway = createLocalGateway({
      routes: ROUTES,
      basePath: auth.basePath,
      authorizers: authorizerDefinitions(auth),
      handlers,
      log,
      corsAllowedOrigins,
      ...(usagePlans && { usagePlans }),
    });
    const apiPort = await listen(gateway, options.port ?? 3000, 'PORT');
    stoppers.push(() => close(gateway));
    const byName = Object.fromEntries((Object.keys(handlers) as FunctionId[]).map((key) => [FUNCTIONS[key].name, handlers[key]]));
    const lambdaApi = createLocalLambdaApi({ functions: byName, secret: newLambdaApiSecret(paths.home), log });
    const lambdaPort = await listen(lambdaApi, options.lambdaPort ?? 3001, 'LAMBDA_PORT');
    stoppers.push(() => close(lambdaApi));

    const info: LocalStackInfo = {
      apiUrl: `http://${LOOPBACK_HOST}:${apiPort}`,
      lambdaEndpoint: `http://${LOOPBACK_HOST}:${lambdaPort}`,
      dynamodbEndpoint,
      region: LOCAL_REGION,
      functions: Object.fromEntries(ADMIN_FUNCTIONS.map((id) => [id, FUNCTIONS[id].name])),
      apiGatewayEndpoint,
      plans: plans.map((plan) => plan.name),
      corsAllowedOrigins,
      tables: { keys: tables.Keys, sessions: tables.Sessions, users: tables.Users },
      pid: process.pid,
      dynamodbPid: dynamodb.pid,
      startedAt: new Date().toISOString(),
    };
    await timed('sealRecords', sealEarlierRecords(handlers.sealRecords, log));
    const demo = await timed('demoKey', ensureDemoKey(paths.demo, handlers));
    writeJsonAtomically(paths.localJson, info);
    stoppers.push(async () => {
      // Only remove what this process wrote: a second start that refused to run must not hide the first.
      if (readLocalStackInfo(paths.home)?.pid === process.pid) {
        removeFile(paths.localJson);
        removeFile(paths.lambdaApiSecret);
      }
    });
    return { info, auth, demo, startupMs: Date.now() - t0, phases, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Builds every function (the `npm run build` bundles, reused when current) and loads them in a function host, as Lambda would. */
async function loadFunctions(phases: Record<string, number>, log: (line: string) => void): Promise<FunctionHost<FunctionId>> {
  let at = Date.now();
  const { functions: built, reused } = await buildFunctions({ reuse: true });
  phases[reused ? 'build (unchanged, reused)' : 'build'] = Date.now() - at;
  at = Date.now();
  const host = await startFunctionHost({ bundles: Object.fromEntries(built.map(({ key, bundlePath }) => [key, bundlePath])) as Record<FunctionId, string>, log });
  phases.load = Date.now() - at;
  return host;
}

/**
 * A start that was killed (SIGKILL, a crash) leaves its Java behind, holding
 * the data folder. Stop it, but only if that pid is still a DynamoDB Local on
 * this very folder (Linux: /proc); elsewhere leave it alone.
 */
async function stopOrphanedDynamoDb(pid: number | undefined, dataDir: string, log: (line: string) => void): Promise<void> {
  if (!pid || !processIsAlive(pid)) return;
  let commandLine: string[];
  try {
    commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return;
  }
  if (!isDynamoDbLocalOn(commandLine, dataDir)) return;
  log(`stopping DynamoDB Local (pid ${pid}) left behind by an earlier start`);
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; processIsAlive(pid) && waited < 10_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
  if (processIsAlive(pid)) process.kill(pid, 'SIGKILL');
}

async function listen(server: Server, port: number, variable: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${port} is in use; set ${variable} to another port (0 picks a free one)`) : error);
    server.once('error', onError);
    server.listen(port, LOOPBACK_HOST, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

async function close(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Seals what an older keygate wrote into this data folder (the demo key
 * first of all), through the seal-records bundle. Deployed, that is a
 * deliberate one-off step (README, Security); here the pepper sits in the
 * same folder as the database, so whoever can change the local tables can
 * read the pepper too, and sealing on start gives nothing away.
 */
async function sealEarlierRecords(sealRecords: LambdaHandler, log: (line: string) => void): Promise<void> {
  let sealed = 0;
  let nextToken: string | undefined;
  do {
    const result = await invokeHandler(FUNCTIONS.sealRecords.name, sealRecords, nextToken === undefined ? {} : { nextToken }, 60_000);
    if (!result.ok) throw new Error(`could not seal the records of an earlier keygate: ${result.error.errorType}: ${result.error.errorMessage}`);
    const value = result.value as { keys: { sealed: number }; sessions: { sealed: number }; apps: { sealed: number }; nextToken?: string };
    sealed += value.keys.sealed + value.sessions.sealed + value.apps.sealed;
    nextToken = value.nextToken;
  } while (nextToken);
  if (sealed > 0) log(`sealed ${sealed} key, session and app plan item${sealed === 1 ? '' : 's'} written by an earlier keygate`);
}

interface DemoRecord {
  readonly appUid: string;
  readonly keyId: string;
  readonly createdAt: string;
}

/**
 * Creates the demo key through the create-key bundle on first start and
 * records its keyId (never the key) in `<home>/demo.json`. Later starts only
 * check it still exists, and make a new one if the data was wiped.
 */
async function ensureDemoKey(file: string, handlers: Record<FunctionId, LambdaHandler>): Promise<LocalStack['demo']> {
  let record: DemoRecord | undefined;
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as DemoRecord;
  } catch {
    record = undefined;
  }
  if (record && (await keyExists(handlers.listKeys, record.appUid, record.keyId))) return { appUid: record.appUid, keyId: record.keyId };

  const created = await invokeHandler(FUNCTIONS.createKey.name, handlers.createKey, { appUid: DEMO_APP, name: 'demo key (npm start)' }, 30_000);
  if (!created.ok) throw new Error(`could not create the demo key: ${created.error.errorType}: ${created.error.errorMessage}`);
  const { keyId, apiKey, createdAt } = created.value as { keyId: string; apiKey: string; createdAt: string };
  writeJsonAtomically(file, { appUid: DEMO_APP, keyId, createdAt } satisfies DemoRecord);
  return { appUid: DEMO_APP, keyId, apiKey };
}

async function keyExists(listKeys: LambdaHandler, appUid: string, keyId: string): Promise<boolean> {
  let nextToken: string | undefined;
  do {
    const page = await invokeHandler(FUNCTIONS.listKeys.name, listKeys, { appUid, nextToken }, 30_000);
    if (!page.ok) throw new Error(`could not list the demo app's keys: ${page.error.errorType}: ${page.error.errorMessage}`);
    const value = page.value as { keys: { keyId: string }[]; nextToken?: string };
    if (value.keys.some((key) => key.keyId === keyId)) return true;
    nextToken = value.nextToken;
  } while (nextToken);
  return false;
}

/** `npm start` environment with one plan no local load reaches, for the bench and load runs: plans checked, never refused. */
export const UNTHROTTLED_PLANS = {
  [PLANS_ENV]: JSON.stringify([{ name: 'unthrottled', rateLimit: 1_000_000, burstLimit: 1_000_000 }]),
  [DEFAULT_PLAN_ENV]: 'unthrottled',
};
