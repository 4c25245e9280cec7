/**
 * End to end through the local stack: `npm start`'s own entry point as a child
 * process (free ports, a temporary KEYGATE_HOME), a key made through its Lambda
 * Invoke API, then autocannon on `GET .../whoami` for `seconds` seconds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { PACKAGE_ROOT as REPO_ROOT } from '../../lib/construct/function-bundles';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { processIsAlive, readLambdaApiSecret, readLocalStackInfo, type LocalStackInfo } from '../../lib/local/home';
import { localLambdaApiCredentials } from '../../lib/local/lambda-api';
import { round } from './stats';
import { UNTHROTTLED_PLANS } from '../../lib/local/stack';

export interface E2eResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly requests: number;
  readonly seconds: number;
  readonly connections: number;
  readonly stackStartSeconds: number;
}

const APP = 'bench';

async function waitForStack(child: ChildProcess, home: string, timeoutMs: number, output: () => string): Promise<LocalStackInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = readLocalStackInfo(home);
    if (info && info.pid === child.pid) return info;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the local stack exited (${child.exitCode ?? child.signalCode}): ${output()}`);
    if (Date.now() > deadline) throw new Error(`the local stack did not start within ${timeoutMs / 1000} s: ${output()}`);
    await sleep(200);
  }
}

/** Creates a key through the stack's Lambda Invoke API, as the CLI does. The key stays in memory. */
async function createKey(info: LocalStackInfo, home: string): Promise<string> {
  const client = new LambdaClient({ endpoint: info.lambdaEndpoint, region: info.region, credentials: localLambdaApiCredentials(readLambdaApiSecret(home) ?? ''), maxAttempts: 1 });
  try {
    const response = await client.send(new InvokeCommand({ FunctionName: info.functions.createKey, Payload: Buffer.from(JSON.stringify({ appUid: APP, name: 'npm run bench e2e' })) }));
    const payload = JSON.parse(Buffer.from(response.Payload ?? []).toString('utf8') || 'null') as { apiKey?: string; errorType?: string } | null;
    if (response.FunctionError || typeof payload?.apiKey !== 'string') throw new Error(`create-key through the local Lambda API failed: ${payload?.errorType ?? response.FunctionError}`);
    return payload.apiKey;
  } finally {
    client.destroy();
  }
}

async function stopStack(child: ChildProcess, home: string): Promise<void> {
  const dynamodbPid = readLocalStackInfo(home)?.dynamodbPid;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
  // The stack stops its DynamoDB Local on SIGTERM; if it was killed instead, stop that one Java process here.
  if (dynamodbPid && processIsAlive(dynamodbPid)) {
    try {
      process.kill(dynamodbPid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export async function runE2e(home: string, seconds: number, log: (line: string) => void): Promise<E2eResult> {
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts'], {
    cwd: REPO_ROOT,
    // One plan far above what this machine can send: the plan check runs on every request, its 429 never.
    env: { ...process.env, PORT: '0', LAMBDA_PORT: '0', DYNAMODB_PORT: '', KEYGATE_HOME: home, ...UNTHROTTLED_PLANS },
    // stdout carries the demo key: read and dropped, never shown. Both streams are drained so the stack never blocks on them.
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let errTail = '';
  child.stdout!.on('data', () => undefined);
  child.stderr!.on('data', (chunk: Buffer) => (errTail = (errTail + chunk.toString()).slice(-2000)));
  const stop = () => child.kill('SIGKILL');
  process.once('exit', stop);
  try {
    const info = await waitForStack(child, home, 120_000, () => errTail);
    const stackStartSeconds = (Date.now() - t0) / 1000;
    log(`  local stack up in ${stackStartSeconds.toFixed(1)} s at ${info.apiUrl}`);
    const apiKey = await createKey(info, home);
    const url = `${info.apiUrl}/api/v1/appuid/${APP}/whoami`;
    const check = await fetch(url, { headers: { 'x-api-key': apiKey } });
    if (check.status !== 200) throw new Error(`GET whoami answered ${check.status} before the load test`);
    await check.text();

    const connections = 8;
    log(`  autocannon: ${connections} connections for ${seconds} s on GET whoami`);
    const result = await autocannon({ url, connections, duration: seconds, headers: { 'x-api-key': apiKey } });
    return {
      rps: round(result.requests.average, 1),
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      errors: result.errors,
      non2xx: result.non2xx,
      requests: result.requests.total,
      seconds: result.duration,
      connections,
      stackStartSeconds: round(stackStartSeconds, 1),
    };
  } finally {
    process.removeListener('exit', stop);
    await stopStack(child, home);
  }
}
