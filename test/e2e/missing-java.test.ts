import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** `npm start` with a PATH holding only `node` and the given Java commands, and a fresh data folder. */
function startWithOnly(javaCommands: string[]) {
  const sandbox = mkdtempSync(path.join(tmpdir(), 'keygate-nojava-'));
  try {
    const bin = path.join(sandbox, 'bin');
    const home = path.join(sandbox, 'home');
    mkdirSync(bin);
    symlinkSync(process.execPath, path.join(bin, 'node'));
    for (const command of javaCommands) {
      const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).stdout.trim();
      if (!found) throw new Error(`this test needs ${command} on PATH`);
      symlinkSync(realpathSync(found), path.join(bin, command));
    }
    const result = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'bin/local.ts'], {
      cwd: ROOT,
      env: { ...process.env, PATH: bin, KEYGATE_HOME: home, PORT: '0', LAMBDA_PORT: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { ...result, built: existsSync(path.join(home, 'build')) ? readdirSync(path.join(home, 'build')) : [] };
  } finally {
    rmSync(sandbox, { recursive: true, force: true });
  }
}

test('npm start without Java: one clear line on stderr, non-zero exit, nothing built', () => {
  const result = startWithOnly([]);
  expect(result.status).toBe(1);
  expect(result.stderr.trim().split('\n')).toEqual([
    'keygate: DynamoDB Local needs a Java 17+ JDK and `java` was not found on PATH; install one, e.g. `sudo apt-get install -y openjdk-17-jdk-headless`',
  ]);
  expect(result.built).toEqual([]);
});

test('npm start with a Java runtime but no JDK (javac): one clear line, never a DynamoDB Local open to the network', () => {
  const result = startWithOnly(['java']);
  expect(result.status).toBe(1);
  expect(result.stderr.trim().split('\n')).toEqual([
    'keygate: DynamoDB Local is bound to 127.0.0.1 by a small launcher compiled once with `javac`, which was not found on PATH (a Java runtime alone is not enough); install a JDK, e.g. `sudo apt-get install -y openjdk-17-jdk-headless`',
  ]);
  expect(result.built).toEqual([]);
});
