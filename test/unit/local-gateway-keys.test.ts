import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { apiGatewayKeys } from '../../functions/lambda/gateway-keys';
import { ConfigurationError, GatewayUnavailable } from '../../functions/domain/errors';
import { createLocalApiGatewayApi, LocalGatewayKeyRegistry } from '../../lib/local/gateway-keys';

/**
 * The local stack's API Gateway key calls, driven by the adapter the admin
 * functions use (the AWS SDK's API Gateway client, pointed at it with
 * AWS_ENDPOINT_URL_API_GATEWAY as npm start does).
 */
let home: string;
let server: Server;
let registry: LocalGatewayKeyRegistry;
let endpoint: string;
const PLANS = ['local-small', 'local-large'];

beforeAll(async () => {
  home = mkdtempSync(path.join(tmpdir(), 'keygate-gwkeys-'));
  registry = new LocalGatewayKeyRegistry(PLANS, path.join(home, 'gateway-keys.json'));
  server = createLocalApiGatewayApi(registry);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.AWS_ENDPOINT_URL_API_GATEWAY = endpoint;
});

afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_API_GATEWAY;
  await new Promise((resolve) => {
    server.close(resolve);
    server.closeAllConnections();
  });
  rmSync(home, { recursive: true, force: true });
});

const VALUE = 'a'.repeat(20) + 'B'.repeat(20);

test('create, attach, move and remove a key as API Gateway would; repeated changes are no-ops, not errors', async () => {
  const keys = apiGatewayKeys();
  const id = await keys.create('keygate-app1', VALUE);
  expect(id).toMatch(/^[a-z0-9]{10}$/);
  expect(registry.byValue(VALUE)).toMatchObject({ id, name: 'keygate-app1', enabled: true, usagePlanIds: [] });

  await keys.attach(id, 'local-small');
  await keys.attach(id, 'local-small'); // already there: fine
  expect(registry.get(id)?.usagePlanIds).toEqual(['local-small']);
  // One plan per stage: a second plan is refused until the key leaves the first.
  await expect(keys.attach(id, 'local-large')).resolves.toBeUndefined();
  expect(registry.get(id)?.usagePlanIds).toEqual(['local-small']);
  await keys.detach(id, 'local-small');
  await keys.detach(id, 'local-small'); // not there: fine
  await keys.attach(id, 'local-large');
  expect(registry.get(id)?.usagePlanIds).toEqual(['local-large']);

  await keys.remove(id);
  await keys.remove(id); // gone: fine
  expect(registry.byValue(VALUE)).toBeUndefined();
});

test('the registry is kept on disk: a new registry on the same file knows the keys', async () => {
  const keys = apiGatewayKeys();
  const id = await keys.create('keygate-app2', 'k'.repeat(40));
  await keys.attach(id, 'local-large');
  const reloaded = new LocalGatewayKeyRegistry(PLANS, path.join(home, 'gateway-keys.json'));
  expect(reloaded.byValue('k'.repeat(40))).toMatchObject({ id, usagePlanIds: ['local-large'] });
  expect(JSON.parse(readFileSync(path.join(home, 'gateway-keys.json'), 'utf8'))).toContainEqual(expect.objectContaining({ id }));
  expect(statSync(path.join(home, 'gateway-keys.json')).isFile()).toBe(true);
});

test('refusals are API Gateway errors the adapter maps: an unknown plan is a configuration error, a taken value too', async () => {
  const keys = apiGatewayKeys();
  const id = await keys.create('keygate-app3', 'c'.repeat(40));
  await expect(keys.attach(id, 'no-such-plan')).rejects.toThrow(ConfigurationError);
  await expect(keys.attach(id, 'no-such-plan')).rejects.toThrow('API Gateway refused CreateUsagePlanKey: NotFoundException');
  await expect(keys.attach('nokey00000', 'local-small')).rejects.toThrow('API Gateway refused CreateUsagePlanKey: NotFoundException');
  await expect(keys.create('again', 'c'.repeat(40))).rejects.toThrow('API Gateway refused CreateApiKey: ConflictException');
});

test('API Gateway unreachable: GatewayUnavailable (retryable)', async () => {
  process.env.AWS_ENDPOINT_URL_API_GATEWAY = 'http://127.0.0.1:1';
  try {
    const error = await apiGatewayKeys().create('x', 'd'.repeat(40)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GatewayUnavailable);
    expect((error as GatewayUnavailable).retryable).toBe(true);
  } finally {
    process.env.AWS_ENDPOINT_URL_API_GATEWAY = endpoint;
  }
});

test('answers this machine only: another Host or a browser Origin is refused, nothing changed', async () => {
  const port = (server.address() as AddressInfo).port;
  // node:http, not fetch: fetch does not let a caller set Host (a DNS-rebinding page's requests carry its own).
  const post = (headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ name: 'evil', value: 'e'.repeat(40), enabled: true });
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/apikeys', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
  expect(await post({ host: `attacker.example:${port}` })).toBe(403);
  expect(await post({ origin: 'http://attacker.example' })).toBe(403);
  expect(registry.byValue('e'.repeat(40))).toBeUndefined();
  expect(await post({})).toBe(201);
});
