import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Template } from 'aws-cdk-lib/assertions';
import { BUNDLING } from '../../lib/build/bundles';
import { ENV } from '../../lib/shared/environment';
import { FUNCTIONS, type FunctionId } from '../../lib/shared/functions';
import { KeygateStack } from '../../lib/construct/keygate-stack';
import { logicalId, testApp } from './infra-app';

/** The one infra test that runs esbuild for real, through the same NodejsFunction options that deploy. */
const outdir = mkdtempSync(path.join(tmpdir(), 'keygate-cdk-out-'));
let assets: Record<FunctionId, string>;
/** Each function's environment as deployed, with CloudFormation references replaced by placeholders. */
let environments: Record<FunctionId, Record<string, string>>;

beforeAll(() => {
  const app = testApp({ bundle: true, outdir });
  const stack = new KeygateStack(app, 'KeygateBundled');
  const template = Template.fromStack(stack);
  assets = {} as Record<FunctionId, string>;
  environments = {} as Record<FunctionId, Record<string, string>>;
  for (const key of Object.keys(FUNCTIONS) as FunctionId[]) {
    const resource = template.toJSON().Resources[logicalId(stack.auth.functions[key]!)];
    // The S3 key is `<asset hash>.zip`; the staged (unzipped) bundle is `asset.<asset hash>` in the cloud assembly.
    const hash = String(resource.Properties.Code.S3Key).replace(/\.zip$/, '');
    assets[key] = path.join(outdir, `asset.${hash}`);
    const variables: Record<string, unknown> = resource.Properties.Environment?.Variables ?? {};
    environments[key] = Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, rendered(value, `placeholder-${name}`)]));
  }
}, 120_000);

/** A CloudFormation value as deployed: joins kept (the plans' JSON is one), each reference a placeholder. */
function rendered(value: unknown, placeholder: string): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  return join ? join[1].map((part) => rendered(part, placeholder)).join(join[0]) : placeholder;
}

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe.each(Object.keys(FUNCTIONS) as FunctionId[])('%s bundle', (key) => {
  test('is one minified ES module with its source map, the AWS SDK inside', () => {
    expect(readdirSync(assets[key]).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    const code = readFileSync(path.join(assets[key], 'index.mjs'), 'utf8');
    expect(code.startsWith(BUNDLING.banner)).toBe(true);
    expect(code).toMatch(/export\s*\{[^}]*\bhandler\b/);
    expect(code).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
    // Loads on its own, outside the repository (no node_modules to fall back on), with only the
    // environment the construct gives it (handlers read table names at init), and exports the handler.
    // A function given the pepper reads it during init: here Secrets Manager is a closed local port,
    // so that read fails, is logged once, and the bundle still loads.
    const probe = spawnSync(
      process.execPath,
      ['--no-warnings', '--input-type=module', '-e', `const m = await import(${JSON.stringify(pathToFileURL(path.join(assets[key], 'index.mjs')).href)}); if (typeof m.handler !== 'function') process.exit(3);`],
      {
        cwd: outdir,
        env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'probe', AWS_SECRET_ACCESS_KEY: 'probe', AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1', ...environments[key] },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(probe.status).toBe(0);
    const stderr = probe.stderr.split('\n').filter((line) => line !== '');
    if (ENV.pepperSecretId in environments[key]) {
      expect(stderr.map((line) => JSON.parse(line))).toEqual([expect.objectContaining({ level: 'ERROR', message: expect.stringMatching(/^pepper not read during init/) })]);
    } else {
      expect(stderr).toEqual([]);
    }
    // A rough ceiling, to notice a dependency that balloons every cold start.
    expect(statSync(path.join(assets[key], 'index.mjs')).size).toBeLessThan(1.5 * 1024 * 1024);
  });
});
