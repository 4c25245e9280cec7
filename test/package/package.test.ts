import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../../lib/construct/function-bundles';
import { FUNCTIONS } from '../../lib/shared/functions';
import { consumerLock } from './consumer-lock';

/**
 * keygate as a CDK user gets it: `npm pack`, then a brand-new CDK app in a
 * folder outside this repository installs the tarball (`npm ci --offline`,
 * from the npm cache this repository's `npm ci` filled; see consumer-lock.ts), type-checks its own code against the package's
 * types, and synthesizes with cdk-nag on. No esbuild, no Docker, no sources.
 */
const work = mkdtempSync(path.join(tmpdir(), 'keygate-package-'));
const consumer = path.join(work, 'consumer');
let tarball: string;
let files: string[];

const version = (name: string) => (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });

beforeAll(() => {
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], PACKAGE_ROOT)) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(work, packed[0]!.filename);
  files = packed[0]!.files.map((file) => file.path);

  mkdirSync(consumer);
  const manifest = {
    name: 'consumer-app',
    dependencies: {
      keygate: `file:${tarball}`,
      'aws-cdk-lib': version('aws-cdk-lib'),
      constructs: version('constructs'),
      'cdk-nag': version('cdk-nag'),
      '@types/node': version('@types/node'),
      typescript: version('typescript'),
    },
  };
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ ...manifest, private: true }));
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  writeFileSync(path.join(consumer, 'package-lock.json'), JSON.stringify(consumerLock(PACKAGE_ROOT, manifest, { resolved: `file:${tarball}`, integrity })));
  writeFileSync(
    path.join(consumer, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, skipLibCheck: false, types: ['node'], outDir: 'out' }, files: ['app.ts'] }),
  );
  copyFileSync(path.join(__dirname, 'consumer-app', 'app.ts'), path.join(consumer, 'app.ts'));
  run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], consumer);
}, 240_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

test('the package holds the compiled library, the CLI and the prebuilt bundles, and no sources, tests or fixtures', () => {
  expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/bin/keygate.js']));
  for (const fn of Object.values(FUNCTIONS)) expect(files).toContain(`dist/functions/${fn.name}/index.mjs`);
  expect(files.filter((file) => /^(test|functions|lib|bin)\//.test(file) || /\.test\.|fixtures|\.keygate/.test(file) || (file.endsWith('.ts') && !file.endsWith('.d.ts')))).toEqual([]);
});

test('the package declares aws-cdk-lib and constructs as peer dependencies, and keygate as its CLI', () => {
  const manifest = JSON.parse(readFileSync(path.join(consumer, 'node_modules/keygate/package.json'), 'utf8')) as Record<string, Record<string, string>>;
  expect(Object.keys(manifest.peerDependencies!).sort()).toEqual(['aws-cdk-lib', 'constructs']);
  expect(manifest.dependencies).not.toHaveProperty('aws-cdk-lib');
  expect(manifest.bin).toEqual({ keygate: 'dist/bin/keygate.js' });
});

test("a fresh CDK app type-checks against the package's types and synthesizes with cdk-nag clean", () => {
  const typecheck = spawnSync(path.join(consumer, 'node_modules/.bin/tsc'), ['-p', '.'], { cwd: consumer, encoding: 'utf8' });
  expect([typecheck.status, typecheck.stdout]).toEqual([0, '']);
  const outdir = path.join(consumer, 'cdk.out');
  run(process.execPath, [path.join('out', 'app.js'), outdir], consumer);

  const template = JSON.parse(readFileSync(path.join(outdir, 'ConsumerStack.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  const resources = Object.values(template.Resources);
  const functions = resources.filter((r) => r.Type === 'AWS::Lambda::Function');
  expect(functions).toHaveLength(Object.keys(FUNCTIONS).length);
  for (const fn of functions) expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler' });
  // Each function's asset is the prebuilt bundle, staged as is.
  const assets = readdirSync(outdir).filter((entry) => entry.startsWith('asset.'));
  expect(assets.length).toBeGreaterThanOrEqual(Object.keys(FUNCTIONS).length);
  for (const asset of assets) expect(readdirSync(path.join(outdir, asset)).sort()).toEqual(['index.mjs', 'index.mjs.map']);
  // The user's own method, at /orders (outside /api/v1/appuid/), sits behind keygate's API-key authorizer in context scope.
  const orders = resources.find((r) => r.Type === 'AWS::ApiGateway::Method' && r.Properties.AuthorizationType === 'CUSTOM' && (r.Properties.Integration as { Type?: string }).Type === 'MOCK');
  expect(orders).toBeDefined();
  const resourceId = (orders!.Properties.ResourceId as { Ref: string }).Ref;
  expect(template.Resources[resourceId]!.Properties).toMatchObject({ PathPart: 'orders', ParentId: { 'Fn::GetAtt': [expect.any(String), 'RootResourceId'] } });
  const authorizer = template.Resources[(orders!.Properties.AuthorizerId as { Ref: string }).Ref]!;
  const authorizerFunction = JSON.stringify(authorizer.Properties.AuthorizerUri).match(/"(KeygateApiKeyAuthorizerFunction[0-9A-F]+)"/)![1]!;
  expect(template.Resources[authorizerFunction]!.Properties.Environment).toMatchObject({ Variables: { KEYGATE_APP_SCOPE: 'context' } });
  // The public revoke route, with no authorizer and its own throttling on the user's stage.
  expect(resources.find((r) => r.Type === 'AWS::ApiGateway::Method' && r.Properties.AuthorizationType === 'NONE' && r.Properties.HttpMethod === 'POST')).toBeDefined();
  const stage = resources.find((r) => r.Type === 'AWS::ApiGateway::Stage')!;
  expect(stage.Properties.MethodSettings).toContainEqual(expect.objectContaining({ ResourcePath: '/~1api~1v1~1keys~1revoke', HttpMethod: 'POST', ThrottlingRateLimit: 1, ThrottlingBurstLimit: 5 }));
  // The checks are live: the same app with one unacknowledged finding fails to synthesize.
  const failing = spawnSync(process.execPath, [path.join('out', 'app.js'), path.join(consumer, 'cdk.out.failing')], {
    cwd: consumer,
    encoding: 'utf8',
    env: { ...process.env, ADD_UNACKNOWLEDGED_FINDING: '1' },
  });
  expect(failing.status).not.toBe(0);
  expect(failing.stderr).toContain('AwsSolutions-SMG4');
  // The synth would have thrown on a finding; the report lists no violation either.
  const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as { pluginReports: { violations: unknown[] }[] };
  expect(report.pluginReports.flatMap((r) => r.violations)).toEqual([]);
});

test('the CLI runs from the consumer project with npx keygate, scan included', () => {
  const help = run('npx', ['--offline', '--no-install', 'keygate', '--help'], consumer);
  expect(help).toMatch(/keys/);
  expect(help).toMatch(/scan/);
  // Nothing planted in the consumer's own files: exit 0.
  const scan = spawnSync('npx', ['--offline', '--no-install', 'keygate', 'scan', 'app.ts'], { cwd: consumer, encoding: 'utf8' });
  expect([scan.status, scan.stderr]).toEqual([0, 'keygate scan: 0 keys or tokens found in 0 files (1 scanned)\n']);
});

test('outside a checkout, the installed CLI says why there is no local stack and what to do; --version is the package version', () => {
  const env = { ...process.env, npm_config_update_notifier: 'false', KEYGATE_HOME: '', KEYGATE_STACK: '' };
  const listed = spawnSync('npx', ['--offline', '--no-install', 'keygate', 'keys', 'list', '--app', 'demo'], { cwd: consumer, encoding: 'utf8', env });
  expect(listed.status).toBe(1);
  expect(listed.stdout).toBe('');
  expect(listed.stderr).toBe(
    `keygate: no local keygate stack: this keygate is an installed package (${path.join(consumer, 'node_modules', 'keygate')}), not a checkout, and \`npm start\` runs only in a checkout; set KEYGATE_HOME to the data folder (.keygate) of a running one, or pass --stack <name> for a deployed stack\n`,
  );
  const version = spawnSync('npx', ['--offline', '--no-install', 'keygate', '--version'], { cwd: consumer, encoding: 'utf8', env });
  expect(version.stdout).toBe(`${(JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
});
