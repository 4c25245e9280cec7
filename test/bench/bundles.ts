/**
 * Bundle size and cold-start module init of every deployed function, against
 * two floors: the bare SDK (DynamoDBClient + one GetItem) bundled with the same
 * options, and the same code with the SDK left external and loaded from
 * node_modules (what CDK's default bundling amounts to).
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { statSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT as REPO_ROOT } from '../../lib/construct/function-bundles';
import { FUNCTIONS, type FunctionId } from '../../lib/shared/functions';
import { BUNDLING, buildFunctions, entryPath, esbuildOptions } from '../../lib/build/bundles';
import { median, round, shuffle } from './stats';

export const BARE_SDK_ENTRY = path.join(__dirname, 'fixtures', 'bare-sdk.ts');
/** The two SigV4 signers weighed for the authorizers (issue 16), each signing one request at import. */
export const SIGNER_ENTRIES = {
  aws4fetch: path.join(__dirname, 'fixtures', 'signer-aws4fetch.mts'),
  smithy: path.join(__dirname, 'fixtures', 'signer-smithy.mts'),
} as const;

export interface BuiltBundles {
  /** Every deployed function: the bundles `npm run build` wrote to dist/functions, what deploys. */
  readonly functions: { readonly key: FunctionId; readonly name: string; readonly path: string; readonly bytes: number }[];
  readonly bareSdk: { readonly path: string; readonly bytes: number };
  readonly externalSdk: { readonly path: string; readonly bytes: number };
  readonly signers: Record<keyof typeof SIGNER_ENTRIES, { readonly path: string; readonly bytes: number }>;
  /** Largest contributors to the API-key authorizer bundle, by package (from esbuild's metafile). */
  readonly authorizerContents: { readonly input: string; readonly bytes: number }[];
}

function bytesOf(file: string): number {
  return statSync(file).size;
}

export async function buildBundles(outDir: string): Promise<BuiltBundles> {
  const { build } = await import('esbuild');
  const { functions: built } = await buildFunctions({ reuse: true });
  const functions = built.map(({ key, definition, bundlePath }) => ({ key, name: definition.name, path: bundlePath, bytes: bytesOf(bundlePath) }));

  const out = `index${BUNDLING.outExtension}`;
  await build({ ...esbuildOptions(), entryPoints: [{ in: BARE_SDK_ENTRY, out: 'bare-sdk/index' }], outdir: outDir });
  await build({
    ...esbuildOptions({ ...BUNDLING, externalModules: ['@aws-sdk/*'] }),
    entryPoints: [{ in: BARE_SDK_ENTRY, out: 'external-sdk/index' }],
    outdir: outDir,
  });
  await build({
    ...esbuildOptions(),
    entryPoints: Object.entries(SIGNER_ENTRIES).map(([name, entry]) => ({ in: entry, out: `signer-${name}/index` })),
    outdir: outDir,
  });
  // The external bundle resolves `@aws-sdk/*` from a node_modules next to it, as Lambda resolves its runtime's SDK.
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(outDir, 'node_modules'), 'dir');

  const analysis = await build({
    ...esbuildOptions(),
    entryPoints: [entryPath(FUNCTIONS.apiKeyAuthorizer)],
    outdir: path.join(outDir, 'metafile'),
    write: false,
    metafile: true,
  });
  const byPackage = new Map<string, number>();
  for (const [file, output] of Object.entries(analysis.metafile.outputs)) {
    if (!file.endsWith(BUNDLING.outExtension)) continue;
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const name = match ? match[1]! : path.dirname(input);
      byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
    }
  }
  const authorizerContents = [...byPackage.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([input, bytes]) => ({ input, bytes }));

  const barePath = path.join(outDir, 'bare-sdk', out);
  const externalPath = path.join(outDir, 'external-sdk', out);
  return {
    functions,
    bareSdk: { path: barePath, bytes: bytesOf(barePath) },
    externalSdk: { path: externalPath, bytes: bytesOf(externalPath) },
    signers: Object.fromEntries(
      Object.keys(SIGNER_ENTRIES).map((name) => {
        const file = path.join(outDir, `signer-${name}`, out);
        return [name, { path: file, bytes: bytesOf(file) }];
      }),
    ) as BuiltBundles['signers'],
    authorizerContents,
  };
}

/**
 * What a deployed function's environment looks like at init: region,
 * credentials, table names, the Lambda initialization type. The pepper is
 * given directly (KEYGATE_LOCAL_PEPPER), so this measures the module's own
 * init; reading it from Secrets Manager during init is measured on its own
 * (see startSecretsManagerStub). NODE_OPTIONS is left unset, as the construct
 * leaves it by default (no --enable-source-maps).
 */
function lambdaLikeEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    KEYS_TABLE_NAME: 'bench-keys',
    SESSIONS_TABLE_NAME: 'bench-sessions',
    USERS_TABLE_NAME: 'bench-users',
    KEYGATE_LOCAL_PEPPER: 'bench-pepper-bench-pepper-bench-pepper-bench',
    ...extra,
  };
  return env;
}

export const BENCH_PEPPER_SECRET_ID = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:keygate-pepper-AbCdEf';

/**
 * A stand-in for Secrets Manager on loopback that answers every
 * GetSecretValue with a pepper, so the bench can time an init that reads the
 * pepper the way a deployed authorizer does (SDK client evaluated, request
 * signed and sent, answer parsed) without leaving the machine. The network
 * round trip to the real service is not in the figure.
 */
export async function startSecretsManagerStub(): Promise<{ endpoint: string; reads(): number; stop(): Promise<void> }> {
  let reads = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (String(req.headers['x-amz-target']).endsWith('.GetSecretValue')) reads++;
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      res.end(JSON.stringify({ ARN: BENCH_PEPPER_SECRET_ID, Name: 'keygate-pepper', SecretString: 'p'.repeat(64) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    reads: () => reads,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// Times only the import (load, parse, evaluate), in milliseconds of wall clock and of CPU.
const IMPORT_TIMER = `
const cpu = process.cpuUsage();
const t0 = performance.now();
await import(process.argv[1]);
const wallMs = performance.now() - t0;
const used = process.cpuUsage(cpu);
process.stdout.write(JSON.stringify({ wallMs, cpuMs: (used.user + used.system) / 1000 }));
`;

/** A bundle to time, under `id`, with environment variables of its own. */
export interface InitTarget {
  readonly id: string;
  readonly path: string;
  readonly env?: Readonly<Record<string, string>>;
}

async function timeImport(target: InitTarget): Promise<{ wallMs: number; cpuMs: number }> {
  const bundle = target.path;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '--eval', IMPORT_TIMER, pathToFileURL(bundle).href], {
      env: lambdaLikeEnv(target.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        if (code !== 0) throw new Error(`exit code ${code}`);
        resolve(JSON.parse(stdout) as { wallMs: number; cpuMs: number });
      } catch (error) {
        reject(new Error(`importing ${bundle} in a fresh node failed (${(error as Error).message}): ${stderr.slice(-2000)}`));
      }
    });
  });
}

export interface InitTimes {
  /** Median wall-clock import time per target id (a bundle's path unless given another id). */
  readonly wallMs: Map<string, number>;
  readonly cpuMs: Map<string, number>;
  /** Median over rounds of the per-round ratio a/b: both ran within the same round, seconds apart. */
  pairedRatio(a: string, b: string): number;
  /** The same on CPU time, which other processes on this machine disturb less. */
  pairedCpuRatio(a: string, b: string): number;
  readonly runs: number;
}

/**
 * Imports every bundle in a fresh node process, `runs` rounds, the order
 * shuffled in each round so that load from other processes on this shared
 * machine falls on all bundles alike. A first round warms the file cache and
 * is discarded.
 */
export async function measureInit(targets: readonly (string | InitTarget)[], runs: number, log: (line: string) => void): Promise<InitTimes> {
  const all = targets.map((target): InitTarget => (typeof target === 'string' ? { id: target, path: target } : target));
  const bundles = all.map((target) => target.id);
  const samples = new Map(bundles.map((bundle) => [bundle, [] as { wallMs: number; cpuMs: number }[]]));
  for (const target of all) await timeImport(target);
  for (let run = 0; run < runs; run++) {
    for (const target of shuffle([...all])) samples.get(target.id)!.push(await timeImport(target));
    if ((run + 1) % 5 === 0) log(`  init round ${run + 1} of ${runs}`);
  }
  const of = (bundle: string) => samples.get(bundle)!;
  return {
    wallMs: new Map(bundles.map((bundle) => [bundle, round(median(of(bundle).map((s) => s.wallMs)), 1)])),
    cpuMs: new Map(bundles.map((bundle) => [bundle, round(median(of(bundle).map((s) => s.cpuMs)), 1)])),
    pairedRatio: (a, b) => round(median(of(a).map((sample, i) => sample.wallMs / of(b)[i]!.wallMs))),
    pairedCpuRatio: (a, b) => round(median(of(a).map((sample, i) => sample.cpuMs / of(b)[i]!.cpuMs))),
    runs,
  };
}
