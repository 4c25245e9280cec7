import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BUNDLING, buildFunctions, esbuildOptions } from '../../lib/build/bundles';

/** The local stack's build: BUNDLING mapped to esbuild, and reuse of unchanged bundles. */
let outDir: string;

beforeAll(() => {
  outDir = mkdtempSync(path.join(tmpdir(), 'keygate-bundle-'));
});

afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

test('esbuildOptions carries every BUNDLING option', () => {
  expect(esbuildOptions()).toMatchObject({
    bundle: true,
    format: BUNDLING.format,
    platform: BUNDLING.platform,
    target: BUNDLING.target,
    minify: BUNDLING.minify,
    sourcemap: BUNDLING.sourcemap,
    mainFields: BUNDLING.mainFields,
    external: BUNDLING.externalModules,
    banner: { js: BUNDLING.banner },
    outExtension: { '.js': BUNDLING.outExtension },
  });
});

test('builds <name>/index.mjs as an ES module with the banner and a source map; reuses it while nothing changed', async () => {
  const first = await buildFunctions({ outDir, functions: ['whoami'], reuse: true });
  expect(first.reused).toBe(false);
  const bundlePath = path.join(outDir, 'whoami', 'index.mjs');
  expect(first.functions.map((fn) => fn.bundlePath)).toEqual([bundlePath]);
  const code = readFileSync(bundlePath, 'utf8');
  expect(code.startsWith(BUNDLING.banner)).toBe(true);
  expect(code).toMatch(/export\s*\{[^}]*as handler/);
  expect(readFileSync(`${bundlePath}.map`, 'utf8')).toContain('functions/whoami/index.ts');

  expect((await buildFunctions({ outDir, functions: ['whoami'], reuse: true })).reused).toBe(true);
  // Without reuse it always builds.
  expect((await buildFunctions({ outDir, functions: ['whoami'] })).reused).toBe(false);

  // An input whose recorded mtime no longer matches forces a rebuild.
  const stampPath = path.join(outDir, '.keygate-build.json');
  const stamp = JSON.parse(readFileSync(stampPath, 'utf8'));
  const source = Object.keys(stamp.inputs).find((file) => file.endsWith(path.join('functions', 'whoami', 'index.ts')))!;
  stamp.inputs[source][0] -= 1000;
  writeFileSync(stampPath, JSON.stringify(stamp));
  expect((await buildFunctions({ outDir, functions: ['whoami'], reuse: true })).reused).toBe(false);
  expect((await buildFunctions({ outDir, functions: ['whoami'], reuse: true })).reused).toBe(true);
});
