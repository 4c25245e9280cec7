import * as path from 'node:path';
import type { BuildOptions } from 'esbuild';
import { BUNDLING, FUNCTIONS, entryPath, REPO_ROOT, type FunctionDefinition, type FunctionKey } from '../functions';

/**
 * esbuild options equivalent to what the CDK `NodejsFunction`s get from
 * BUNDLING: the single mapping from the shared bundling options to esbuild,
 * used by the local stack and the benchmark. Entry points and output folder are
 * the caller's.
 */
export function esbuildOptions(bundling: typeof BUNDLING = BUNDLING): BuildOptions {
  return {
    bundle: true,
    format: bundling.format,
    platform: bundling.platform,
    target: bundling.target,
    minify: bundling.minify,
    sourcemap: bundling.sourcemap,
    mainFields: [...bundling.mainFields],
    external: [...bundling.externalModules],
    banner: { js: bundling.banner },
    outExtension: { '.js': bundling.outExtension },
    // Like NodejsFunction: resolve from the project, write files, no metafile noise.
    absWorkingDir: REPO_ROOT,
    logLevel: 'warning',
  };
}

export interface BuiltFunction {
  readonly key: FunctionKey;
  readonly definition: FunctionDefinition;
  /** Absolute path of `<outDir>/<name>/index.mjs`. */
  readonly bundlePath: string;
}

/**
 * Builds the given functions (default: all of FUNCTIONS) into
 * `<outDir>/<name>/index.mjs` in one esbuild run. Without code splitting each
 * output is exactly what a separate per-function build would produce.
 */
export async function buildFunctions(outDir: string, keys: readonly FunctionKey[] = Object.keys(FUNCTIONS) as FunctionKey[]): Promise<BuiltFunction[]> {
  const { build } = await import('esbuild');
  const functions = keys.map((key) => ({ key, definition: FUNCTIONS[key] as FunctionDefinition }));
  await build({
    ...esbuildOptions(),
    entryPoints: functions.map(({ definition }) => ({ in: entryPath(definition), out: `${definition.name}/index` })),
    outdir: outDir,
  });
  return functions.map(({ key, definition }) => ({
    key,
    definition,
    bundlePath: path.join(outDir, definition.name, `index${BUNDLING.outExtension}`),
  }));
}
