import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { credentialFormat } from '../../functions/domain/credential-format';
import { PACKAGE_ROOT } from '../../lib/construct/function-bundles';

/**
 * The README's "Leaked keys" recipes, taken from the README itself: the
 * gitleaks rule's regular expression, and the git pre-commit hook run by a
 * real git commit.
 */
const readme = readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Leaked keys'), readme.indexOf('## Reliability'));
const keys = credentialFormat('kg');
const tokens = credentialFormat('kgs');

test("the gitleaks rule's regex matches keys and tokens as gitleaks would, and not values of the wrong shape", () => {
  const source = /^regex = '''(.+)'''$/m.exec(section)?.[1];
  expect(source).toBeDefined();
  const rule = new RegExp(source!, 'g');
  const key = keys.generate();
  const token = tokens.generate();
  const text = `API_KEY=${key}\n{"authToken":"${token}"}\n`;
  expect([...text.matchAll(rule)].map((match) => match[1])).toEqual([key, token]);
  for (const shape of [key.slice(0, -1), `${key}x`, `${key.slice(0, 10)}-${key.slice(11)}`, `x${key}`, `kgx_${key.slice(3)}`]) {
    expect([shape, [...shape.matchAll(rule)]]).toEqual([shape, []]);
  }
});

describe('the pre-commit hook', () => {
  const repo = mkdtempSync(path.join(tmpdir(), 'keygate-hook-'));
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com', HOME: repo };
  const git = (...args: string[]) => spawnSync('git', args, { cwd: repo, env, encoding: 'utf8' });

  beforeAll(() => {
    const hook = /^As a git pre-commit hook[\s\S]*?```sh\n([\s\S]*?)```/m.exec(section)?.[1];
    expect(hook).toBeDefined();
    expect(hook).toContain('npx --no-install keygate scan');
    // This repository runs its CLI from source; a consumer's npx finds the installed package.
    const cli = `${JSON.stringify(path.join(PACKAGE_ROOT, 'node_modules/.bin/tsx'))} ${JSON.stringify(path.join(PACKAGE_ROOT, 'bin/keygate.ts'))}`;
    expect(git('init', '-q').status).toBe(0);
    writeFileSync(path.join(repo, '.git/hooks/pre-commit'), hook!.replace('npx --no-install keygate', cli));
    chmodSync(path.join(repo, '.git/hooks/pre-commit'), 0o755);
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  test('refuses a commit that stages a key, naming where it is but not the key; lets a clean commit and an empty one through', () => {
    const key = keys.generate();
    writeFileSync(path.join(repo, 'config.env'), `REGION=eu\nKEY=${key}\n`);
    writeFileSync(path.join(repo, 'README'), 'hello\n');
    git('add', 'config.env', 'README');
    const refused = git('commit', '-q', '-m', 'with a key');
    expect(refused.status).toBe(1);
    // git sends a hook's standard output to its standard error.
    expect(refused.stderr).toContain(`config.env:2:5: ${key.slice(0, 11)} (api key)`);
    expect(refused.stderr).toContain('remove the key or token above before committing');
    expect(refused.stdout + refused.stderr).not.toContain(key.slice(3, 46));
    expect(git('rev-parse', '--verify', 'HEAD').status).not.toBe(0);

    git('rm', '-q', '--cached', 'config.env');
    const clean = git('commit', '-q', '-m', 'clean');
    expect([clean.status, clean.stderr]).toEqual([0, 'keygate scan: 0 keys or tokens found in 0 files (1 scanned)\n']);

    const empty = git('commit', '-q', '--allow-empty', '-m', 'nothing staged');
    expect(empty.status).toBe(0);
  });
});
