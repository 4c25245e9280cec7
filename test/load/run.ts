/**
 * `npm run test:load`: load and soak through the local stack (`bin/local.ts`:
 * the local API Gateway emulation running the bundled functions against
 * DynamoDB Local), as fast as the machine goes, for LOAD_SECONDS (default 60).
 *
 * Each request is drawn at random from a mix of valid, invalid, deleted and
 * cross-app keys and session calls, and its answer is checked against what
 * DESIGN §4 says it must be. Fails (exit 1) on any wrong answer, any 5xx, any
 * connection error or timeout, or resident memory of the server growing by
 * more than LOAD_MAX_RSS_GROWTH_MB (default 300) in all, or by more than
 * LOAD_MAX_FINAL_THIRD_RSS_GROWTH_MB (default 50) in the last third of the
 * run: V8 grows the heap in steps and then levels off, a leak keeps growing. Plaintext keys and tokens are
 * never printed. All traffic goes to 127.0.0.1.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import autocannon from 'autocannon';
import { credentialFormat } from '../../functions/domain/credential-format';
import { UNTHROTTLED_PLANS } from '../../lib/local/stack';

const ROOT = path.resolve(__dirname, '..', '..');
const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 16);
const MAX_RSS_GROWTH_MB = Number(process.env.LOAD_MAX_RSS_GROWTH_MB ?? 300);
const MAX_FINAL_THIRD_GROWTH_MB = Number(process.env.LOAD_MAX_FINAL_THIRD_RSS_GROWTH_MB ?? 50);
// Under full load the server's heap grows in steps for its first ~45 s on this machine (RSS 340 → 480 MB, all
// features on), then levels off. A 30 s warm-up puts most of that before the measured run, and the leak check looks
// only at its last third.
const WARMUP_SECONDS = Number(process.env.LOAD_WARMUP_SECONDS ?? 30);
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

interface Case {
  readonly name: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** Fixed, or drawn anew for each request. */
  readonly headers: Record<string, string> | (() => Record<string, string>);
  readonly body?: string;
  readonly status: number;
  /** Extra check on a 200 body. */
  readonly body200?: (body: Record<string, unknown>) => boolean;
  readonly weight: number;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Math.round(Number(match[1]) / 102.4) / 10 : Number.NaN;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function cli(home: string, args: string[]): Record<string, unknown> {
  const result = spawnSync(TSX, [path.join(ROOT, 'bin', 'keygate.ts'), ...args, '--json'], {
    cwd: ROOT,
    env: { ...process.env, KEYGATE_HOME: home },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`keygate ${args.slice(0, 2).join(' ')} failed: ${result.stderr.trim().split('\n')[0]}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

async function main(): Promise<void> {
  const home = mkdtempSync(path.join(tmpdir(), 'keygate-load-'));
  let stack: ChildProcess | undefined;
  let exitCode = 1;
  try {
    stack = spawn(TSX, [path.join(ROOT, 'bin', 'local.ts')], {
      cwd: ROOT,
      // One plan far above what this machine can send: the plan check runs on every request, its 429 never.
      env: { ...process.env, KEYGATE_HOME: home, PORT: '0', LAMBDA_PORT: '0', ...UNTHROTTLED_PLANS },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let banner = '';
    let errors = '';
    // Only the start-up banner is needed; the per-request log lines that follow are dropped.
    stack.stdout!.on('data', (chunk: Buffer) => {
      if (banner.length < 64 * 1024) banner += chunk.toString();
    });
    stack.stderr!.on('data', (chunk: Buffer) => (errors = (errors + chunk.toString()).slice(-4000)));
    const exited = new Promise<number | null>((resolve) => stack!.once('exit', (code) => resolve(code)));
    void exited.then((code) => {
      if (exitCode !== 0 && code !== null) process.stderr.write(`local stack exited with ${code}:\n${errors}\n`);
    });

    const localJson = path.join(home, 'local.json');
    const info = await waitFor('the local stack (local.json)', 180_000, () =>
      existsSync(localJson) ? (JSON.parse(readFileSync(localJson, 'utf8')) as { apiUrl: string; pid: number; dynamodbPid?: number }) : undefined,
    );
    const demoKey = await waitFor('the demo key in the banner', 30_000, () => /^\s+(kg_[0-9A-Za-z]{49})\s*$/m.exec(banner)?.[1]);
    if (!info.apiUrl.startsWith('http://127.0.0.1:')) throw new Error(`refusing to load a non-local API: ${info.apiUrl}`);
    const api = (app: string, route: string) => `/api/v1/appuid/${app}/${route}`;

    // Keys of a second app, and a deleted key, made with the CLI against the running stack.
    const other = cli(home, ['keys', 'create', '--app', 'load-other', '--name', 'other app', '--new-app']);
    const doomed = cli(home, ['keys', 'create', '--app', 'demo', '--name', 'to delete']);
    cli(home, ['keys', 'delete', '--app', 'demo', '--key', String(doomed.keyId)]);
    const auth = await fetch(`${info.apiUrl}${api('demo', 'sdkusers/auth')}`, {
      method: 'POST',
      headers: { 'x-api-key': demoKey, 'content-type': 'application/json' },
      body: JSON.stringify({ externalId: 'load-user', name: 'Load' }),
    });
    if (auth.status !== 200) throw new Error(`sdkusers/auth answered ${auth.status}`);
    const { authToken } = (await auth.json()) as { authToken: string };

    const keyFormat = credentialFormat('kg');
    const garbage = () => randomBytes(1 + Math.floor(Math.random() * 60)).toString('base64');
    const cases: Case[] = [
      { name: 'valid key', method: 'GET', path: api('demo', 'whoami'), headers: { 'x-api-key': demoKey }, status: 200, body200: (b) => b.appUid === 'demo' && b.role === 'app-owner', weight: 6 },
      { name: 'valid key, other app', method: 'GET', path: api('demo', 'whoami'), headers: { 'x-api-key': String(other.apiKey) }, status: 403, weight: 2 },
      { name: 'valid key on another app path', method: 'GET', path: api('load-other', 'whoami'), headers: { 'x-api-key': demoKey }, status: 403, weight: 2 },
      { name: 'deleted key', method: 'GET', path: api('demo', 'whoami'), headers: { 'x-api-key': String(doomed.apiKey) }, status: 401, weight: 2 },
      { name: 'never-issued key', method: 'GET', path: api('demo', 'whoami'), headers: () => ({ 'x-api-key': keyFormat.generate() }), status: 401, weight: 2 },
      { name: 'garbage key', method: 'GET', path: api('demo', 'whoami'), headers: () => ({ 'x-api-key': garbage() }), status: 401, weight: 2 },
      { name: 'no key', method: 'GET', path: api('demo', 'whoami'), headers: {}, status: 401, weight: 1 },
      { name: 'near-miss key', method: 'GET', path: api('demo', 'whoami'), headers: { 'x-api-key': `${demoKey.slice(0, 10)}${demoKey[10] === 'A' ? 'B' : 'A'}${demoKey.slice(11)}` }, status: 401, weight: 1 },
      { name: 'session me', method: 'GET', path: api('demo', 'sdkusers/me'), headers: { authorization: `Bearer ${authToken}` }, status: 200, body200: (b) => b.externalId === 'load-user', weight: 5 },
      { name: 'session on other app', method: 'GET', path: api('load-other', 'sdkusers/me'), headers: { authorization: `Bearer ${authToken}` }, status: 403, weight: 1 },
      { name: 'bad session', method: 'GET', path: api('demo', 'sdkusers/me'), headers: () => ({ authorization: `Bearer ${credentialFormat('kgs').generate()}` }), status: 401, weight: 1 },
      { name: 'key as session', method: 'GET', path: api('demo', 'sdkusers/me'), headers: { authorization: `Bearer ${demoKey}` }, status: 401, weight: 1 },
      {
        name: 'session auth',
        method: 'POST',
        path: api('demo', 'sdkusers/auth'),
        headers: { 'x-api-key': demoKey, 'content-type': 'application/json' },
        body: JSON.stringify({ externalId: 'load-user' }),
        status: 200,
        body200: (b) => typeof b.authToken === 'string' && typeof b.expiresAt === 'string',
        weight: 1,
      },
      { name: 'session auth, bad body', method: 'POST', path: api('demo', 'sdkusers/auth'), headers: { 'x-api-key': demoKey, 'content-type': 'application/json' }, body: '{"externalId":"a b"}', status: 400, weight: 1 },
    ];
    const bag = cases.flatMap((c) => Array<Case>(c.weight).fill(c));
    const tally: Record<string, { sent: number; wrong: number }> = Object.fromEntries(cases.map((c) => [c.name, { sent: 0, wrong: 0 }]));
    const wrongSamples: string[] = [];

    const run = (seconds: number, check: boolean) =>
      autocannon({
        url: info.apiUrl,
        connections: CONNECTIONS,
        duration: seconds,
        timeout: 10,
        requests: [
          {
            setupRequest: (request, context) => {
              const chosen = bag[Math.floor(Math.random() * bag.length)];
              (context as { case?: Case }).case = chosen;
              const headers = typeof chosen.headers === 'function' ? chosen.headers() : chosen.headers;
              return { ...request, method: chosen.method, path: chosen.path, headers, body: chosen.body };
            },
            onResponse: (status, body, context) => {
              if (!check) return;
              const expected = (context as { case: Case }).case;
              tally[expected.name].sent++;
              let ok = status === expected.status;
              if (ok && status === 200 && expected.body200) {
                try {
                  ok = expected.body200(JSON.parse(body) as Record<string, unknown>);
                } catch {
                  ok = false;
                }
              }
              if (!ok) {
                tally[expected.name].wrong++;
                if (wrongSamples.length < 10) wrongSamples.push(`${expected.name}: expected ${expected.status}, got ${status}`);
              }
            },
          },
        ],
      });

    await run(WARMUP_SECONDS, false);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const rssBefore = rssMb(info.pid);
    // RSS once a second while measuring: how far V8 lets the heap grow depends on the machine's memory (more on a
    // 24 GiB runner than here), and it grows in steps; a leak is told apart by growth that goes on to the end.
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssMb(info.pid)), 1000);
    const result = await run(SECONDS, true);
    clearInterval(sampler);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const rssAfter = rssMb(info.pid);
    const rssTwoThirds = samples[Math.floor((samples.length * 2) / 3)] ?? rssBefore;
    const finalThirdGrowth = Math.round((rssAfter - rssTwoThirds) * 10) / 10;
    const javaRss = info.dynamodbPid ? rssMb(info.dynamodbPid) : undefined;

    const wrong = Object.values(tally).reduce((sum, t) => sum + t.wrong, 0);
    const checked = Object.values(tally).reduce((sum, t) => sum + t.sent, 0);
    const summary = {
      seconds: SECONDS,
      connections: CONNECTIONS,
      requests: result.requests.total,
      checkedAnswers: checked,
      requestsPerSecond: { average: result.requests.average, min: result.requests.min, max: result.requests.max },
      latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
      wrongAnswers: wrong,
      status5xx: result['5xx'],
      errors: result.errors,
      timeouts: result.timeouts,
      serverRssMb: { before: rssBefore, atTwoThirds: rssTwoThirds, after: rssAfter, growth: Math.round((rssAfter - rssBefore) * 10) / 10, finalThirdGrowth },
      dynamodbLocalRssMbAfter: javaRss,
      serverRssMbEvery5s: samples.filter((_, i) => i % 5 === 4).map(Math.round),
      perCase: tally,
    };
    const { perCase, ...totals } = summary;
    process.stdout.write(`[load] ${JSON.stringify(totals, null, 2)}\n[load] per case: ${JSON.stringify(perCase)}\n`);
    for (const sample of wrongSamples) process.stdout.write(`[load] wrong: ${sample}\n`);

    const failures = [
      wrong > 0 && `${wrong} wrong answers`,
      result['5xx'] > 0 && `${result['5xx']} 5xx answers`,
      result.errors > 0 && `${result.errors} connection errors`,
      result.timeouts > 0 && `${result.timeouts} timeouts`,
      checked < SECONDS * 10 && `only ${checked} answers checked`,
      rssAfter - rssBefore > MAX_RSS_GROWTH_MB && `server RSS grew by ${summary.serverRssMb.growth} MB`,
      finalThirdGrowth > MAX_FINAL_THIRD_GROWTH_MB && `server RSS still grew by ${finalThirdGrowth} MB in the last third of the run`,
    ].filter(Boolean);
    if (failures.length > 0) {
      process.stderr.write(`[load] FAILED: ${failures.join('; ')}\n`);
    } else {
      process.stdout.write(`[load] passed: ${checked} answers in ${SECONDS} s, all as DESIGN §4 says\n`);
      exitCode = 0;
    }
  } finally {
    if (stack && stack.exitCode === null) {
      const stopped = new Promise((resolve) => stack!.once('exit', resolve));
      stack.kill('SIGTERM');
      const timer = setTimeout(() => stack!.kill('SIGKILL'), 15_000);
      await stopped;
      clearTimeout(timer);
    }
    rmSync(home, { recursive: true, force: true });
  }
  process.exit(exitCode);
}

main().catch((error: unknown) => {
  process.stderr.write(`[load] ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
