import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { KeygateAuth, type KeygateAuthProps } from '../../lib/construct/keygate-auth';
import { createLocalApiGatewayApi, LocalGatewayKeyRegistry } from '../../lib/local/gateway-keys';
import { ENV } from '../../lib/shared/environment';
import type { PlanDefinition } from '../../lib/shared/plans';
import { FUNCTIONS, type FunctionId } from '../../lib/shared/functions';
import { credentialFormat } from '../../functions/domain/credential-format';
import type { TableNames } from '../../lib/local/tables';
import { logicalId, roleOf, testApp, type Statement } from '../infra/infra-app';
import { builtBundleEnv, invokeBuiltBundle, type BuiltOutcome } from '../support/built-bundle';
import { createTestTables } from '../support/dynamodb';
import { apiKeyEvent, proxyEvent, sessionTokenEvent } from '../support/events';

/**
 * Each built bundle's DynamoDB calls against the IAM role the construct gives
 * its function. The local stack enforces no IAM, so a call a role does not
 * allow (update-key once read lastUsedAt with BatchGetItem, which its role
 * lacks) would show only in AWS. Here every request a bundle sends goes
 * through a recording proxy in front of DynamoDB Local, and each one, as IAM
 * authorizes it (a transaction item by item, as PutItem, UpdateItem, ...),
 * must be allowed by a statement of that function's role: the action, the
 * table, and the `dynamodb:LeadingKeys` condition. Attribute conditions
 * (`dynamodb:Attributes`, `Select`, `ReturnValues`) are checked by the
 * statement-level tests in test/infra, not here.
 */

interface Recorded {
  readonly operation: string;
  readonly body: Record<string, unknown>;
}

/** One request as IAM evaluates it: an action on a table, for the partition keys it touches (none for a Scan). */
interface Access {
  readonly action: string;
  readonly table: string;
  readonly partitionKeys: readonly string[];
}

type AttributeMap = Record<string, { S?: string }>;

const pkOf = (item: unknown) => (item as AttributeMap | undefined)?.pk?.S;
const defined = (values: (string | undefined)[]) => values.filter((value): value is string => value !== undefined);

/** The partition key a Query's key condition names (`pk = :v`, by name or placeholder). */
function queriedPartition(body: Record<string, unknown>): string | undefined {
  const names = (body.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const values = (body.ExpressionAttributeValues ?? {}) as AttributeMap;
  for (const [, name, value] of String(body.KeyConditionExpression).matchAll(/([#\w]+)\s*=\s*(:\w+)/g)) {
    if ((names[name!] ?? name) === 'pk') return values[value!]?.S;
  }
  return undefined;
}

function accesses({ operation, body }: Recorded): Access[] {
  const table = String(body.TableName);
  switch (operation) {
    case 'GetItem':
    case 'UpdateItem':
    case 'DeleteItem':
      return [{ action: operation, table, partitionKeys: defined([pkOf(body.Key)]) }];
    case 'PutItem':
      return [{ action: operation, table, partitionKeys: defined([pkOf(body.Item)]) }];
    case 'Query':
      return [{ action: operation, table, partitionKeys: defined([queriedPartition(body)]) }];
    case 'Scan':
      return [{ action: operation, table, partitionKeys: [] }];
    case 'BatchGetItem':
      return Object.entries(body.RequestItems as Record<string, { Keys: unknown[] }>).map(([name, { Keys }]) => ({ action: operation, table: name, partitionKeys: defined(Keys.map(pkOf)) }));
    case 'BatchWriteItem':
      return Object.entries(body.RequestItems as Record<string, { PutRequest?: { Item: unknown }; DeleteRequest?: { Key: unknown } }[]>).map(([name, requests]) => ({
        action: operation,
        table: name,
        partitionKeys: defined(requests.map((r) => pkOf(r.PutRequest?.Item ?? r.DeleteRequest?.Key))),
      }));
    case 'TransactWriteItems':
      // IAM authorizes a transaction item by item, each as the action it performs.
      return (body.TransactItems as Record<string, { TableName: string; Item?: unknown; Key?: unknown }>[]).map((item) => {
        const [kind, request] = Object.entries(item)[0]!;
        const action = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem' }[kind] ?? kind;
        return { action, table: request.TableName, partitionKeys: defined([pkOf(request.Item ?? request.Key)]) };
      });
    default:
      return [{ action: operation, table, partitionKeys: [] }];
  }
}

const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);

/** Whether some statement allows the access: its action, one of its resources the table (by logical id), every partition key within its LeadingKeys. */
function allowedBy(statements: readonly Statement[], access: Access, tableLogicalId: string): boolean {
  return statements.some((statement) => {
    if (statement.Effect !== 'Allow') return false;
    if (![statement.Action].flat().includes(`dynamodb:${access.action}`)) return false;
    const resources = [statement.Resource].flat().map((resource) => JSON.stringify(resource));
    if (!resources.some((resource) => resource.includes(`"${tableLogicalId}"`))) return false;
    const leading = (statement.Condition as { 'ForAllValues:StringLike'?: { 'dynamodb:LeadingKeys'?: string[] } } | undefined)?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'];
    return leading === undefined || access.partitionKeys.every((pk) => leading.some((pattern) => glob(pattern).test(pk)));
  });
}

/** A deployment: the construct with some props, and its synthesized template. */
function deployment(props: KeygateAuthProps) {
  const stack = new Stack(testApp(), 'IamConformance');
  const construct = new KeygateAuth(stack, 'Auth', props);
  construct.addRoutes(new apigateway.RestApi(stack, 'Api', { cloudWatchRole: false }));
  return { construct, template: Template.fromStack(stack) };
}
type Deployment = ReturnType<typeof deployment>;

const USAGE_PLANS = { small: 'local-small', large: 'local-large' };
const PLANS: PlanDefinition[] = [
  { name: 'small', rateLimit: 5, burstLimit: 5 },
  { name: 'large', rateLimit: 500, burstLimit: 1000 },
];

let dynamodbLocal: string;
let proxy: Server;
let gateway: Server;
let recorded: Recorded[] = [];
const exercised = new Set<FunctionId>();
let tables: TableNames;
let env: Record<string, string | undefined>;
let plansEnv: Record<string, string | undefined>;
let defaults: Deployment;

beforeAll(async () => {
  dynamodbLocal = process.env.AWS_ENDPOINT_URL_DYNAMODB!;
  tables = await createTestTables();
  defaults = deployment({});
  gateway = createLocalApiGatewayApi(new LocalGatewayKeyRegistry(Object.values(USAGE_PLANS)));
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  proxy = createServer((incoming: IncomingMessage, answer) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      const target = String(incoming.headers['x-amz-target'] ?? '');
      recorded.push({ operation: target.slice(target.indexOf('.') + 1), body: JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown> });
      const upstream = new URL(dynamodbLocal);
      const forwarded = request(
        { host: upstream.hostname, port: upstream.port, path: incoming.url, method: incoming.method, headers: { ...incoming.headers, host: upstream.host } },
        (reply) => {
          answer.writeHead(reply.statusCode ?? 500, reply.headers);
          reply.pipe(answer);
        },
      );
      forwarded.on('error', () => answer.destroy());
      forwarded.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  env = { ...builtBundleEnv(tables), AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` };
  plansEnv = {
    ...env,
    [ENV.usagePlans]: JSON.stringify(USAGE_PLANS),
    [ENV.defaultPlan]: 'small',
    AWS_ENDPOINT_URL_API_GATEWAY: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`,
  };
});

afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  await new Promise((resolve) => {
    gateway?.close(resolve);
    gateway?.closeAllConnections();
  });
});

const tableLogicalIds = ({ construct }: Deployment) => ({
  [tables.Keys]: logicalId(construct.keysTable),
  [tables.Sessions]: logicalId(construct.sessionsTable!),
  [tables.Users]: logicalId(construct.usersTable!),
});

/** Runs the built bundle of `fn` once, and checks every DynamoDB request it made against the role `deployed` gives its function. */
async function invokeWithinRole(fn: FunctionId, event: unknown, deployed = defaults, bundleEnv = env): Promise<BuiltOutcome & { readonly operations: string[] }> {
  recorded = [];
  exercised.add(fn);
  const outcome = await invokeBuiltBundle(fn, event, bundleEnv);
  const { statements } = roleOf(deployed.template, logicalId(deployed.construct.functions[fn]!));
  const ids = tableLogicalIds(deployed);
  const denied = recorded.flatMap(accesses).filter((access) => !allowedBy(statements, access, ids[access.table]!));
  expect({ fn, denied }).toEqual({ fn, denied: [] });
  return { ...outcome, operations: recorded.map((r) => r.operation) };
}

test('every function calls DynamoDB only as its role allows, on its typical path', async () => {
  const app = 'iam-app';
  const created = await invokeWithinRole('createKey', { appUid: app, name: 'first' });
  expect(created).toMatchObject({ ok: true, operations: expect.arrayContaining(['TransactWriteItems']) });
  const key = (created as { value: { keyId: string; apiKey: string } }).value;
  const other = ((await invokeWithinRole('createKey', { appUid: app, name: 'second' })) as { value: { keyId: string; apiKey: string } }).value;

  expect(await invokeWithinRole('listKeys', { appUid: app })).toMatchObject({ ok: true });
  expect(await invokeWithinRole('updateKey', { appUid: app, keyId: key.keyId, name: 'renamed', enabled: false })).toMatchObject({ ok: true });
  expect(await invokeWithinRole('updateKey', { appUid: app, keyId: key.keyId, enabled: true })).toMatchObject({ ok: true });
  expect(await invokeWithinRole('listKeyEvents', { appUid: app })).toMatchObject({ ok: true });
  expect(await invokeWithinRole('listApps', {})).toMatchObject({ ok: true });
  expect(await invokeWithinRole('getApp', { appUid: app })).toMatchObject({ ok: true });
  expect(await invokeWithinRole('importKeys', { appUid: app, keys: [{ key: credentialFormat('kg').generate(), name: 'imported' }] })).toMatchObject({ ok: true });

  // The authorizer's one read, and its lastUsedAt write after the answer.
  const authorized = await invokeWithinRole('apiKeyAuthorizer', apiKeyEvent(key.apiKey, app));
  expect(authorized).toMatchObject({ ok: true, operations: ['GetItem', 'UpdateItem'] });

  const signedIn = await invokeWithinRole('sdkUsersAuth', proxyEvent({ body: JSON.stringify({ externalId: 'iam-user' }), pathParameters: { appUid: app }, context: { appUid: app, keyId: key.keyId } }));
  expect(signedIn).toMatchObject({ ok: true, value: { statusCode: 200 } });
  const { authToken } = JSON.parse((signedIn as { value: { body: string } }).value.body) as { authToken: string };
  const session = await invokeWithinRole('sessionAuthorizer', sessionTokenEvent(authToken, app));
  expect(session).toMatchObject({ ok: true, operations: ['GetItem'] });
  const context = (session as { value: { context: Record<string, string> } }).value.context;
  expect(await invokeWithinRole('sdkUsersMe', proxyEvent({ method: 'GET', pathParameters: { appUid: app }, context }))).toMatchObject({ ok: true, value: { statusCode: 200 } });

  expect(await invokeWithinRole('rollKey', { appUid: app, keyId: key.keyId, gracePeriodSeconds: 60 })).toMatchObject({ ok: true });
  expect(await invokeWithinRole('sealRecords', {})).toMatchObject({ ok: true });
  expect(await invokeWithinRole('revokeSessions', { appUid: app, createdByKeyId: key.keyId })).toMatchObject({ ok: true });
  expect(await invokeWithinRole('deleteUser', { appUid: app, userId: context.userId })).toMatchObject({ ok: true, value: { deleted: true } });
  const reported = await invokeWithinRole('revokeKeys', proxyEvent({ path: '/api/v1/keys/revoke', body: JSON.stringify({ keys: [other.apiKey] }) }));
  expect(reported).toMatchObject({ ok: true, value: { statusCode: 202 }, operations: expect.arrayContaining(['TransactWriteItems']) });
  expect(await invokeWithinRole('deleteKey', { appUid: app, keyId: key.keyId })).toMatchObject({ ok: true });
  // Plans are off in the default construct: set-app-plan refuses before any call, and whoami makes none.
  expect(await invokeWithinRole('setAppPlan', { appUid: app, plan: 'free' })).toMatchObject({ ok: false, errorType: 'ValidationError', operations: [] });
  expect(await invokeWithinRole('whoami', proxyEvent({ method: 'GET', pathParameters: { appUid: app }, context: { appUid: app, keyId: key.keyId, role: 'app-owner' } }))).toMatchObject({ ok: true, operations: [] });
});

test('with plans and a default plan: creating, importing and rolling keys, moving an app between plans and off them, all within their roles', async () => {
  const withPlans = deployment({ plans: PLANS, defaultPlan: 'small' });
  const call = (fn: FunctionId, event: unknown) => invokeWithinRole(fn, event, withPlans, plansEnv);
  const app = 'iam-plans';
  // Its first key puts the app on the default plan: registry, gateway key, the key's hash item resealed.
  const created = await call('createKey', { appUid: app, name: 'first' });
  expect(created).toMatchObject({ ok: true });
  const key = (created as { value: { keyId: string; apiKey: string } }).value;
  expect(await call('importKeys', { appUid: app, keys: [{ key: credentialFormat('kg').generate(), name: 'imported' }] })).toMatchObject({ ok: true });
  expect(await call('rollKey', { appUid: app, keyId: key.keyId, gracePeriodSeconds: 60 })).toMatchObject({ ok: true });
  expect(await call('setAppPlan', { appUid: app, plan: 'large' })).toMatchObject({ ok: true, value: { plan: 'large' } });
  expect(await call('apiKeyAuthorizer', apiKeyEvent(key.apiKey, app))).toMatchObject({ ok: true, value: { usageIdentifierKey: expect.any(String) } });
  expect(await call('getApp', { appUid: app })).toMatchObject({ ok: true, value: { plan: 'large' } });
  // Off its plan: set-app-plan null with a default plan puts it back on the default one.
  expect(await call('setAppPlan', { appUid: app, plan: null })).toMatchObject({ ok: true, value: { plan: 'small' } });
  expect(await call('sealRecords', {})).toMatchObject({ ok: true });
});

test("the check refuses what a role does not allow: list-keys' BatchGetItem outside hash# items, a Scan, another table; update-key's BatchGetItem", () => {
  const { statements } = roleOf(defaults.template, logicalId(defaults.construct.functions.listKeys!));
  const keys = logicalId(defaults.construct.keysTable);
  expect(allowedBy(statements, { action: 'BatchGetItem', table: 'k', partitionKeys: ['hash#x'] }, keys)).toBe(true);
  expect(allowedBy(statements, { action: 'BatchGetItem', table: 'k', partitionKeys: ['apps'] }, keys)).toBe(false);
  expect(allowedBy(statements, { action: 'Scan', table: 'k', partitionKeys: [] }, keys)).toBe(false);
  expect(allowedBy(statements, { action: 'Query', table: 'k', partitionKeys: ['app#a'] }, logicalId(defaults.construct.sessionsTable!))).toBe(false);
  // update-key as it was: its lastUsedAt read was a BatchGetItem its role does not allow.
  expect(allowedBy(roleOf(defaults.template, logicalId(defaults.construct.functions.updateKey!)).statements, { action: 'BatchGetItem', table: 'k', partitionKeys: ['hash#x'] }, keys)).toBe(false);
});

test('every function keygate deploys was exercised above: a new one must be added', () => {
  expect([...exercised].sort()).toEqual(Object.keys(FUNCTIONS).sort());
});
