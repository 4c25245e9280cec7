import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { BUNDLE_FILE, type FunctionDefinition } from '../shared/functions';

/**
 * Where the prebuilt function bundles are: `<package>/dist/functions/<name>/`.
 * The same folder whether this file runs from the sources (`lib/construct/`,
 * in this repository) or compiled (`dist/lib/construct/`, in an installed
 * package), so the construct, the local stack and the tests all use the
 * bundles `npm run build` wrote.
 */
export const PACKAGE_ROOT = findPackageRoot(__dirname);
export const BUNDLES_DIR = path.join(PACKAGE_ROOT, 'dist', 'functions');

export function bundleDirectory(fn: FunctionDefinition): string {
  return path.join(BUNDLES_DIR, fn.name);
}

export function bundleFile(fn: FunctionDefinition): string {
  return path.join(bundleDirectory(fn), BUNDLE_FILE);
}

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`keygate: no package.json above ${start}`);
  }
}
