import { readFileSync } from 'node:fs';
import * as path from 'node:path';

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  [field: string]: unknown;
}

/**
 * A package-lock.json for the consumer app, made from this repository's own
 * lock: exactly the packages the consumer's dependencies need (the closure,
 * resolved as Node does, through nested node_modules first), each pinned to
 * the version and tarball `npm ci` already put in the npm cache. With it,
 * `npm ci --offline` installs the consumer without the registry, and a
 * dependency keygate forgot to declare stays missing, as it would for a user.
 */
export function consumerLock(repoRoot: string, root: { name: string; dependencies: Record<string, string> }, keygate: { resolved: string; integrity: string }): unknown {
  const repoLock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const keygateManifest = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as LockEntry & { version: string };
  const packages: Record<string, LockEntry> = {
    '': { name: root.name, dependencies: root.dependencies },
    'node_modules/keygate': {
      version: keygateManifest.version,
      resolved: keygate.resolved,
      integrity: keygate.integrity,
      license: keygateManifest.license,
      dependencies: keygateManifest.dependencies,
      peerDependencies: keygateManifest.peerDependencies,
      bin: keygateManifest.bin,
      engines: keygateManifest.engines,
    },
  };
  const locate = (from: string, name: string): string | undefined => {
    for (let dir = from; ; dir = dir.includes('/node_modules/') ? dir.slice(0, dir.lastIndexOf('/node_modules/')) : '') {
      const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (repoLock.packages[candidate]) return candidate;
      if (!dir) return undefined;
    }
  };
  const queue: [string, string][] = Object.keys(root.dependencies)
    .filter((name) => name !== 'keygate')
    .map((name) => ['', name]);
  for (const name of Object.keys({ ...keygateManifest.dependencies })) queue.push(['', name]);
  while (queue.length > 0) {
    const [from, name] = queue.shift()!;
    const found = locate(from, name);
    if (!found || packages[found]) continue;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = repoLock.packages[found]!;
    // Some lock entries carry only the integrity; the tarball URL is the registry's usual one, and the cache knows it by integrity.
    packages[found] = { ...entry, resolved: entry.resolved ?? registryTarball(found.slice(found.lastIndexOf('node_modules/') + 'node_modules/'.length), entry.version!) };
    for (const dependency of Object.keys({ ...entry.dependencies })) queue.push([found, dependency]);
  }
  return { name: root.name, lockfileVersion: 3, requires: true, packages };
}

function registryTarball(name: string, version: string): string {
  return `https://registry.npmjs.org/${name}/-/${name.slice(name.indexOf('/') + 1)}-${version}.tgz`;
}
