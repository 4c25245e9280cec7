import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { BuildOptions, Plugin } from 'esbuild';
import { BUNDLES_DIR, PACKAGE_ROOT } from '../construct/function-bundles';
import { FUNCTIONS, NODE_RUNTIME_MAJOR, type FunctionDefinition, type FunctionId } from '../shared/functions';

/**
 * esbuild options of every function bundle: the one build that `npm run
 * build`, `npm start`, the tests and the bench all use, and whose output the
 * construct deploys.
 *
 * ESM + `mainFields: ['module', 'main']` lets esbuild take the SDK's ES module
 * builds and drop what is unused; measured here, that halves module init
 * compared with leaving the SDK external. The banner gives the CommonJS parts
 * of the dependency tree a `require` inside an ES module.
 */
export const BUNDLING = {
  format: 'esm',
  platform: 'node',
  target: `node${NODE_RUNTIME_MAJOR}`,
  minify: true,
  sourcemap: true,
  // Maps carry file and line positions only: embedding the sources would triple each upload for no gain in a stack trace.
  sourcesContent: false,
  mainFields: ['module', 'main'],
  externalModules: [] as string[],
  banner: "import { createRequire as __keygateCreateRequire } from 'node:module';const require = __keygateCreateRequire(import.meta.url);",
  outExtension: '.mjs',
} as const;

/** Handler source of a function, relative to the package root. */
export function entryPath(fn: FunctionDefinition): string {
  return path.join(PACKAGE_ROOT, 'functions', fn.name, 'index.ts');
}

const ENTRY_NAMESPACE = 'keygate-entry';
const INIT_MODULE = path.join(PACKAGE_ROOT, 'functions', 'lambda', 'init.ts');

/**
 * The source of a bundle's entry module: the handler module's exports, then a
 * top-level await of the work it started at module scope (the pepper read,
 * see functions/lambda/init.ts), so Lambda's init phase does it. It lives only
 * in the ES module bundle: the TypeScript sources stay free of top-level await
 * (the tests run them as CommonJS).
 */
export function entrySource(fn: FunctionDefinition): string {
  return [`export * from ${JSON.stringify(entryPath(fn))};`, `import { initialized } from ${JSON.stringify(INIT_MODULE)};`, 'await initialized();', ''].join('\n');
}

/** Serves `keygate-entry:<function name>` as that function's generated entry module. */
function entryPlugin(): Plugin {
  const byName = new Map(Object.values(FUNCTIONS).map((fn: FunctionDefinition) => [fn.name, fn]));
  return {
    name: ENTRY_NAMESPACE,
    setup(build) {
      build.onResolve({ filter: new RegExp(`^${ENTRY_NAMESPACE}:`) }, (args) => ({ path: args.path.slice(ENTRY_NAMESPACE.length + 1), namespace: ENTRY_NAMESPACE }));
      build.onLoad({ filter: /.*/, namespace: ENTRY_NAMESPACE }, (args) => {
        const fn = byName.get(args.path);
        if (!fn) return { errors: [{ text: `no keygate function named ${args.path}` }] };
        return { contents: entrySource(fn), loader: 'ts', resolveDir: PACKAGE_ROOT };
      });
    },
  };
}

/** BUNDLING as esbuild options; entry points and output folder are the caller's. */
export function esbuildOptions(bundling: typeof BUNDLING = BUNDLING): BuildOptions {
  return {
    bundle: true,
    format: bundling.format,
    platform: bundling.platform,
    target: bundling.target,
    minify: bundling.minify,
    sourcemap: bundling.sourcemap,
    sourcesContent: bundling.sourcesContent,
    mainFields: [...bundling.mainFields],
    external: [...bundling.externalModules],
    banner: { js: bundling.banner },
    outExtension: { '.js': bundling.outExtension },
    // Like NodejsFunction: resolve from the project, write files, no metafile noise.
    absWorkingDir: PACKAGE_ROOT,
    logLevel: 'warning',
  };
}

export interface BuiltFunction {
  readonly key: FunctionId;
  readonly definition: FunctionDefinition;
  /** Absolute path of `<outDir>/<name>/index.mjs`. */
  readonly bundlePath: string;
}

export interface BuildResult {
  readonly functions: BuiltFunction[];
  /** The bundles of an earlier build were still current and were kept. */
  readonly reused: boolean;
}

const STAMP_FILE = '.keygate-build.json';

/** What a build depended on: the options and each input file's mtime and size (from esbuild's metafile). */
interface BuildStamp {
  readonly options: string;
  readonly inputs: Record<string, [number, number]>;
  readonly outputs: string[];
}

/**
 * Builds the given functions (default: all of FUNCTIONS) into
 * `<outDir>/<name>/index.mjs` in one esbuild run. Without code splitting each
 * output is exactly what a separate per-function build would produce. With
 * `reuse`, bundles whose inputs (sources and node_modules files) and options
 * are unchanged since the last build are kept.
 */
export async function buildFunctions({
  outDir = BUNDLES_DIR,
  functions: keys = Object.keys(FUNCTIONS) as FunctionId[],
  reuse = false,
}: { readonly outDir?: string; readonly functions?: readonly FunctionId[]; readonly reuse?: boolean } = {}): Promise<BuildResult> {
  const functions = keys.map((key) => {
    const definition = FUNCTIONS[key] as FunctionDefinition;
    return { key, definition, bundlePath: path.join(outDir, definition.name, `index${BUNDLING.outExtension}`) };
  });
  const options = {
    ...esbuildOptions(),
    entryPoints: functions.map(({ definition }) => ({ in: `${ENTRY_NAMESPACE}:${definition.name}`, out: `${definition.name}/index` })),
    outdir: outDir,
  };
  // The generated entries are part of what a build depends on.
  const optionsKey = JSON.stringify({ ...options, entries: functions.map(({ definition }) => entrySource(definition)) });
  const stampPath = path.join(outDir, STAMP_FILE);
  if (reuse && stampIsCurrent(stampPath, optionsKey)) return { functions, reused: true };

  const { build } = await import('esbuild');
  const result = await build({ ...options, plugins: [entryPlugin()], metafile: true });
  const inputs: BuildStamp['inputs'] = {};
  for (const input of Object.keys(result.metafile.inputs)) {
    const file = path.resolve(PACKAGE_ROOT, input);
    const stat = statSync(file, { throwIfNoEntry: false });
    if (stat) inputs[file] = [stat.mtimeMs, stat.size];
  }
  const stamp: BuildStamp = { options: optionsKey, inputs, outputs: functions.map((fn) => fn.bundlePath) };
  writeFileSync(stampPath, JSON.stringify(stamp));
  return { functions, reused: false };
}

function stampIsCurrent(stampPath: string, optionsKey: string): boolean {
  let stamp: BuildStamp;
  try {
    stamp = JSON.parse(readFileSync(stampPath, 'utf8')) as BuildStamp;
  } catch {
    return false;
  }
  if (stamp.options !== optionsKey || !stamp.outputs.every((output) => existsSync(output))) return false;
  return Object.entries(stamp.inputs).every(([file, [mtimeMs, size]]) => {
    const stat = statSync(file, { throwIfNoEntry: false });
    return stat !== undefined && stat.mtimeMs === mtimeMs && stat.size === size;
  });
}
