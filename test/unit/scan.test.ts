import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { credentialFormat } from '../../functions/domain/credential-format';
import { run } from '../../lib/admin/cli';
import { reportKeys, revokeUrl, scanPaths, scanPrefixes, scanText, ScanUsageError } from '../../lib/admin/scan';

/**
 * `keygate scan` on a temporary tree of planted keys and near misses: the
 * scanner core, the CLI (exit codes, human and JSON output, standard input)
 * and the report client against a real HTTP server. No output may hold a
 * whole key or its secret.
 */
const keys = credentialFormat('kg');
const tokens = credentialFormat('kgs');
const acme = credentialFormat('acme');

/** Every credential planted anywhere in this file's trees and inputs. */
const planted: string[] = [];
const plant = <T extends string>(value: T) => (planted.push(value), value);
const newKey = () => plant(keys.generate());

/** A near miss of a fresh key (it is planted too: its secret must not be printed either). */
const nearMisses = {
  'bad checksum': () => {
    const key = newKey();
    return `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
  },
  'one character short': () => newKey().slice(0, -1),
  'a character outside base62': () => {
    const key = newKey();
    return `${key.slice(0, 10)}+${key.slice(11)}`;
  },
  'unknown prefix': () => plant(credentialFormat('zz').generate()),
};

let root: string;
/** Where each planted key of the tree is: relative path, line, column. */
let expected: { path: string; line: number; column: number; displayPrefix: string; kind: string }[];

function write(relative: string, text: string): void {
  const file = path.join(root, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'keygate-scan-'));
  const envKey = newKey();
  const logToken = plant(tokens.generate());
  const jsonKey = newKey();
  const gluedKey = newKey();
  const acmeKey = plant(acme.generate());
  write('.env', `# settings\nREGION=eu-west-1\nKEYGATE_KEY=${envKey}\n`);
  write('logs/app.log', `line one\r\n2026-01-01 auth ok token=${logToken} user=1\r\n`);
  write('src/deep/config.json', `{\n  "name": "x",\n    "apiKey": "${jsonKey}", "other": "${nearMisses['bad checksum']()}"\n}\n`);
  write('src/glued.txt', `prefix${gluedKey}suffix and ${nearMisses['one character short']()} ${nearMisses['a character outside base62']()}\n`);
  write('src/custom.yml', `acme: ${acmeKey}\nzz: ${nearMisses['unknown prefix']()}\n`);
  // Never walked into.
  write('.git/config', `[secret]\n key = ${newKey()}\n`);
  write('node_modules/pkg/index.js', `module.exports = '${newKey()}';\n`);
  symlinkSync(path.join(root, '.env'), path.join(root, 'link-to-env'));
  expected = [
    { path: path.join(root, '.env'), line: 3, column: 13, displayPrefix: envKey.slice(0, 11), kind: 'api key' },
    { path: path.join(root, 'logs/app.log'), line: 2, column: 26, displayPrefix: logToken.slice(0, 12), kind: 'session token' },
    { path: path.join(root, 'src/deep/config.json'), line: 3, column: 16, displayPrefix: jsonKey.slice(0, 11), kind: 'api key' },
    { path: path.join(root, 'src/glued.txt'), line: 1, column: 7, displayPrefix: gluedKey.slice(0, 11), kind: 'api key' },
  ];
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** No text may hold a planted credential, whole or its 43-character secret. */
function expectNoCredential(...texts: string[]): void {
  const text = texts.join('\n');
  const leaked = planted.filter((value) => text.includes(value) || text.includes(value.slice(value.indexOf('_') + 1, value.indexOf('_') + 44)));
  expect(leaked).toEqual([]);
}

async function cli(argv: string[], stdin?: string) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: {},
    stdin: { isTTY: stdin === undefined, read: async () => stdin ?? '' },
  });
  expectNoCredential(stdout, stderr);
  return { code, stdout, stderr };
}

describe('scanner core', () => {
  test('finds every planted key and token with its location, skipping .git, node_modules and links, and no near miss', async () => {
    const result = await scanPaths([root], { prefixes: scanPrefixes(), readStdin: async () => '' });
    expect(result.findings.map((finding) => finding.toJSON())).toEqual(expected);
    expect(result.filesScanned).toBe(5);
    expect(result.skipped).toEqual([{ path: path.join(root, 'link-to-env'), reason: 'symbolic link' }]);
  });

  test('a custom prefix is found only when asked for', async () => {
    const withAcme = await scanPaths([path.join(root, 'src/custom.yml')], { prefixes: scanPrefixes(['acme']), readStdin: async () => '' });
    expect(withAcme.findings.map((finding) => [finding.line, finding.column, finding.kind])).toEqual([[1, 7, 'custom prefix']]);
    const without = await scanPaths([path.join(root, 'src/custom.yml')], { prefixes: scanPrefixes(), readStdin: async () => '' });
    expect(without.findings).toEqual([]);
  });

  test('line and column count characters, not bytes, and every line break', () => {
    const key = newKey();
    const [finding] = scanText(`ü\n\n  é ${key}`, 'x', scanPrefixes());
    expect(finding!.toJSON()).toEqual({ path: 'x', line: 3, column: 5, kind: 'api key', displayPrefix: key.slice(0, 11) });
  });

  test('a finding never shows its credential: not as text, JSON or inspected', () => {
    const key = newKey();
    const [finding] = scanText(key, 'x', scanPrefixes());
    expect(finding!.revealCredential()).toBe(key);
    expectNoCredential(String(finding), JSON.stringify(finding), inspect(finding, { showHidden: true, depth: 5 }), JSON.stringify({ ...finding }));
  });

  test('an invalid custom prefix is a usage error', () => {
    expect(() => scanPrefixes(['KG'])).toThrow(ScanUsageError);
  });
});

describe('keygate scan', () => {
  test('prints path:line:column and the display prefix of each, a summary on stderr, and exits 1', async () => {
    const result = await cli(['scan', root]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(expected.map((f) => `${f.path}:${f.line}:${f.column}: ${f.displayPrefix} (${f.kind})\n`).join(''));
    expect(result.stderr).toContain('keygate scan: 4 keys or tokens found in 4 files (5 scanned)');
    expect(result.stderr).toContain(`keygate scan: skipped ${path.join(root, 'link-to-env')}: symbolic link`);
  });

  test('--json: the findings, nothing else on stdout', async () => {
    const result = await cli(['scan', '--json', '--prefix', 'acme', path.join(root, 'src')]);
    expect(result.code).toBe(1);
    const output = JSON.parse(result.stdout);
    // In name order: custom.yml, deep/config.json, glued.txt.
    expect(output.findings).toEqual([expect.objectContaining({ kind: 'custom prefix', line: 1, column: 7 }), expected[2], expected[3]]);
    expect(output.filesScanned).toBe(3);
  });

  test('exits 0 when there is nothing to find, near misses included', async () => {
    const text = Object.values(nearMisses).map((make) => make()).join('\n');
    write('clean/near-misses.txt', text);
    const result = await cli(['scan', path.join(root, 'clean')]);
    expect(result).toEqual({ code: 0, stdout: '', stderr: 'keygate scan: 0 keys or tokens found in 0 files (1 scanned)\n' });
  });

  test('reads standard input for - and when it is piped with no paths', async () => {
    const key = newKey();
    for (const argv of [['scan', '-'], ['scan']]) {
      const result = await cli(argv, `one\ntwo ${key}\n`);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe(`<stdin>:2:5: ${key.slice(0, 11)} (api key)\n`);
    }
  });

  test.each([
    ['a path that does not exist', ['scan', '/nonexistent/keygate-scan'], /no such file or folder/],
    ['an invalid prefix', ['scan', '--prefix', 'Bad', '.'], /--prefix: prefix must be/],
    ['an unknown option', ['scan', '--nope', '.'], /unknown option/],
    ['no paths and a terminal on stdin', ['scan'], /give files or folders to scan, or pipe text/],
    ['--report to a plain-http remote host', ['scan', '--report', 'http://example.com/prod', '.'], /must be https/],
    ['--report that is not a URL', ['scan', '--report', 'nope', '.'], /not a URL/],
  ])('usage error, exit 2: %s', async (_label, argv, message) => {
    const result = await cli(argv);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
  });
});

describe('--report client, against a real HTTP server', () => {
  let server: Server;
  let base: string;
  let answer: (req: IncomingMessage, body: string, res: ServerResponse) => void;
  const bodies: { keys: string[] }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        expect(req.url).toBe('/prod/api/v1/keys/revoke');
        bodies.push(JSON.parse(body));
        answer(req, body, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => (bodies.length = 0));

  const accept = (_req: IncomingMessage, body: string, res: ServerResponse) => {
    res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ received: JSON.parse(body).keys.length }));
  };

  test('revokeUrl: the revoke route under the base URL, https or loopback http only', () => {
    expect(revokeUrl('https://abc.execute-api.eu-west-1.amazonaws.com/prod/').href).toBe('https://abc.execute-api.eu-west-1.amazonaws.com/prod/api/v1/keys/revoke');
    expect(revokeUrl('https://abc.execute-api.eu-west-1.amazonaws.com/prod').href).toBe('https://abc.execute-api.eu-west-1.amazonaws.com/prod/api/v1/keys/revoke');
    expect(revokeUrl('http://127.0.0.1:3000').href).toBe('http://127.0.0.1:3000/api/v1/keys/revoke');
    expect(() => revokeUrl('http://10.0.0.1/prod')).toThrow(ScanUsageError);
    expect(() => revokeUrl('https://h/prod?x=1')).toThrow(ScanUsageError);
  });

  test('sends the keys found (not session tokens, each once) in batches of 100, and says what was received', async () => {
    answer = accept;
    const many = Array.from({ length: 150 }, () => newKey());
    const token = plant(tokens.generate());
    const input = [...many, many[0], token].join('\n');
    const result = await cli(['scan', '--report', base], input);
    expect(result.code).toBe(1);
    expect(bodies.map((body) => body.keys.length)).toEqual([100, 50]);
    expect(bodies.flatMap((body) => body.keys)).toEqual(many);
    expect(result.stderr).toContain(`keygate scan: reported 150 keys to ${base}/api/v1/keys/revoke; it received 150.`);
    expect(result.stderr).toContain('session tokens are not reported');
  });

  test('a throttled route (429) is retried with growing waits until it accepts', async () => {
    let calls = 0;
    answer = (req, body, res) => (++calls < 3 ? res.writeHead(429).end('{"message":"Too Many Requests"}') : accept(req, body, res));
    const waits: number[] = [];
    const key = newKey();
    const result = await reportKeys(revokeUrl(base), [key], { sleep: async (ms) => void waits.push(ms) });
    expect(result).toEqual({ sent: 1, received: 1 });
    expect(waits).toEqual([1000, 2000]);
  });

  test('a refusal is reported without the answer body, exit 1 (keys were found), and a redirect is never followed', async () => {
    answer = (_req, _body, res) => res.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"echo kg_secret"}');
    const refused = await cli(['scan', '--report', base], newKey());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`the report failed: ${base}/api/v1/keys/revoke answered 400; is it a keygate deployment's base URL?`);
    expect(refused.stderr).not.toContain('echo');

    answer = (_req, _body, res) => res.writeHead(307, { location: 'https://example.com/collect' }).end();
    const redirected = await cli(['scan', '--json', '--report', base], newKey());
    expect(bodies).toHaveLength(2);
    expect(JSON.parse(redirected.stdout).reportError).toMatch(/could not reach/);
  });
});
