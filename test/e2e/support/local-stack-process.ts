import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { readLocalStackInfo, type LocalStackInfo } from '../../../lib/local/home';
import { run } from '../../../lib/admin/cli';

/**
 * `npm start` as a child process (jest cannot import the .mjs bundles
 * in-process), on free ports with its own data folder.
 */
export interface StackProcess {
  readonly child: ChildProcess;
  readonly info: LocalStackInfo;
  stdout(): string;
  stderr(): string;
}

const REPO_ROOT = path.resolve(__dirname, '../../..');

export async function startStackProcess(home: string, extraEnv: Record<string, string> = {}, timeoutMs = 120_000): Promise<StackProcess> {
  const { child, stdout, stderr, exited } = spawnStack(home, extraEnv);
  const started = Date.now();
  try {
    for (;;) {
      if (/Ctrl-C stops the stack/.test(stdout())) break;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`npm start exited (${child.exitCode ?? child.signalCode}):\n${stderr()}`);
      if (Date.now() - started > timeoutMs) throw new Error(`npm start was not ready within ${timeoutMs} ms:\n${stdout()}\n${stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const info = readLocalStackInfo(home);
    if (!info) throw new Error('npm start printed its banner but wrote no local.json');
    return { child, info, stdout, stderr };
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
}

/** Runs `npm start` to completion (for starts that are expected to fail). */
export async function runStackProcess(home: string, extraEnv: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { child, stdout, stderr, exited } = spawnStack(home, extraEnv);
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(timer);
  return { code: child.exitCode, stdout: stdout(), stderr: stderr() };
}

function spawnStack(home: string, extraEnv: Record<string, string>) {
  const child = spawn(path.join(REPO_ROOT, 'node_modules/.bin/tsx'), ['bin/local.ts'], {
    cwd: REPO_ROOT,
    // The functions log at Powertools' default level, as for a user (the test environment silences in-process handlers).
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'INFO', PORT: '0', LAMBDA_PORT: '0', DYNAMODB_PORT: '0', KEYGATE_HOME: home, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** SIGTERM, as Ctrl-C would; resolves with the exit code. */
export async function stopStackProcess(stack: StackProcess, timeoutMs = 30_000): Promise<number | null> {
  const { child } = stack;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
  return child.exitCode;
}

/** The CLI code path, in-process, against the stack whose data folder is `home`. */
export async function keygateCli(home: string, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), env: { KEYGATE_HOME: home } });
  return { code, stdout, stderr };
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
