import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startFunctionHost, type FunctionHost } from '../../lib/local/function-host';
import { invokeHandler } from '../../lib/local/lambda-runtime';

/** The worker that runs bundles: results as JSON, errors as Lambda reports them, crash recovery, environment. */
let dir: string;
let host: FunctionHost<'ok' | 'fails' | 'callback' | 'crash' | 'env'>;
const logs: string[] = [];

const modules = {
  ok: `export const handler = async (event, context) => ({ event, functionName: context.functionName, remaining: context.getRemainingTimeInMillis() > 0, when: new Date(0) });`,
  fails: `class KeyNotFound extends Error { constructor(m) { super(m); this.name = 'KeyNotFound'; } }
export const handler = async () => { throw new KeyNotFound('key key_1 not found in app a'); };`,
  callback: `export const handler = (event, context, callback) => { setTimeout(() => callback(null, { doubled: event * 2 }), 1); };`,
  crash: `export const handler = async () => { setTimeout(() => { throw new Error('escaped'); }, 1); return new Promise(() => {}); };`,
  env: `const table = process.env.KEYS_TABLE_NAME; export const handler = async () => ({ table });`,
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'keygate-host-'));
  const bundles = {} as Record<keyof typeof modules, string>;
  for (const [name, code] of Object.entries(modules)) {
    const file = path.join(dir, `${name}.mjs`);
    writeFileSync(file, code);
    bundles[name as keyof typeof modules] = file;
  }
  host = await startFunctionHost({ bundles, env: { KEYS_TABLE_NAME: 'from-host-env' }, log: (line) => logs.push(line) });
});

afterAll(async () => {
  await host.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a result comes back JSON-serialized, with a Lambda context', async () => {
  const result = await invokeHandler('ok-fn', host.handlers.ok, { a: 1 }, 5000);
  expect(result).toMatchObject({ ok: true, value: { event: { a: 1 }, functionName: 'ok-fn', remaining: true, when: '1970-01-01T00:00:00.000Z' } });
});

test('a thrown error keeps its errorType and message', async () => {
  const result = await invokeHandler('fails', host.handlers.fails, {}, 5000);
  expect(result).toMatchObject({ ok: false, error: { errorType: 'KeyNotFound', errorMessage: 'key key_1 not found in app a' } });
});

test('callback-style handlers', async () => {
  expect(await invokeHandler('callback', host.handlers.callback, 21, 5000)).toMatchObject({ ok: true, value: { doubled: 42 } });
});

test('the functions see the environment given to the host', async () => {
  expect(await invokeHandler('env', host.handlers.env, {}, 5000)).toMatchObject({ ok: true, value: { table: 'from-host-env' } });
});

test('an uncaught error kills the worker: the pending invocation fails with Runtime.ExitError and the next one gets a new worker', async () => {
  const crashed = await invokeHandler('crash', host.handlers.crash, {}, 5000);
  expect(crashed).toMatchObject({ ok: false, error: { errorType: 'Runtime.ExitError' } });
  expect(await invokeHandler('ok', host.handlers.ok, 'again', 5000)).toMatchObject({ ok: true, value: { event: 'again' } });
  expect(logs.join('\n')).toMatch(/escaped/);
});

test('a bundle that fails to load fails the start', async () => {
  const broken = path.join(dir, 'broken.mjs');
  writeFileSync(broken, `throw new Error('module init failed');`);
  await expect(startFunctionHost({ bundles: { broken } })).rejects.toThrow(/module init failed/);
  const noHandler = path.join(dir, 'nohandler.mjs');
  writeFileSync(noHandler, `export const other = 1;`);
  await expect(startFunctionHost({ bundles: { noHandler } })).rejects.toThrow(/exports no handler/);
});
