import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

test('npm start without Java: one clear line on stderr, non-zero exit, nothing built', () => {
  const sandbox = mkdtempSync(path.join(tmpdir(), 'keygate-nojava-'));
  try {
    // A PATH holding only node: `java` cannot be found.
    const bin = path.join(sandbox, 'bin');
    const home = path.join(sandbox, 'home');
    mkdirSync(bin);
    symlinkSync(process.execPath, path.join(bin, 'node'));
    const result = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'bin/local.ts'], {
      cwd: ROOT,
      env: { ...process.env, PATH: bin, KEYGATE_HOME: home, PORT: '0', LAMBDA_PORT: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'keygate: DynamoDB Local needs a Java 17+ runtime and `java` was not found on PATH; install one, e.g. `sudo apt-get install -y openjdk-17-jre-headless`',
    ]);
    expect(existsSync(path.join(home, 'build')) ? readdirSync(path.join(home, 'build')) : []).toEqual([]);
  } finally {
    rmSync(sandbox, { recursive: true, force: true });
  }
});
