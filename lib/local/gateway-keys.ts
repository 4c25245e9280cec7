import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { foreignRequestProblem, readBody } from './loopback';
import { writeJsonAtomically } from './home';
import type { GatewayKeyLookup } from './usage-plans';

/**
 * The local stack's API Gateway keys: a registry of gateway API keys and the
 * usage plans they are in (kept in `<home>/gateway-keys.json`, so a restart
 * keeps every app's key), and the four calls of API Gateway's management
 * API that keygate makes (CreateApiKey, DeleteApiKey, CreateUsagePlanKey,
 * DeleteUsagePlanKey) served over HTTP. The admin bundles reach it through
 * the AWS SDK's API Gateway client with AWS_ENDPOINT_URL_API_GATEWAY, the
 * same code path as deployed; the local gateway reads the registry.
 */
export interface LocalGatewayKey {
  readonly id: string;
  readonly value: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly createdDate: string;
  readonly usagePlanIds: readonly string[];
}

export type AttachOutcome = 'attached' | 'noSuchKey' | 'noSuchPlan' | 'alreadyInPlan' | 'inAnotherPlan';

export class LocalGatewayKeyRegistry implements GatewayKeyLookup {
  private readonly keys = new Map<string, LocalGatewayKey>();

  /** `file`: where the registry is kept (none: memory only); `usagePlanIds`: the plans keys may join. */
  constructor(
    private readonly usagePlanIds: readonly string[],
    private readonly file?: string,
  ) {
    if (!file) return;
    let saved: LocalGatewayKey[] = [];
    try {
      saved = JSON.parse(readFileSync(file, 'utf8')) as LocalGatewayKey[];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${file} is not a gateway key registry: ${(error as Error).message}`);
    }
    for (const key of saved) this.keys.set(key.id, key);
  }

  create(name: string, value: string, enabled: boolean): LocalGatewayKey | 'valueTaken' {
    if (this.byValue(value)) return 'valueTaken';
    // API Gateway's key ids: 10 lowercase letters and digits.
    const id = [...randomBytes(10)].map((byte) => 'abcdefghijklmnopqrstuvwxyz0123456789'[byte % 36]).join('');
    const key: LocalGatewayKey = { id, value, name, enabled, createdDate: new Date().toISOString(), usagePlanIds: [] };
    this.keys.set(id, key);
    this.save();
    return key;
  }

  all(): LocalGatewayKey[] {
    return [...this.keys.values()];
  }

  get(id: string): LocalGatewayKey | undefined {
    return this.keys.get(id);
  }

  byValue(value: string): LocalGatewayKey | undefined {
    for (const key of this.keys.values()) if (key.value === value) return key;
    return undefined;
  }

  remove(id: string): boolean {
    const removed = this.keys.delete(id);
    if (removed) this.save();
    return removed;
  }

  /** All of a stack's plans are on its one stage: like API Gateway, a key may be in only one of them. */
  attach(id: string, usagePlanId: string): AttachOutcome {
    const key = this.keys.get(id);
    if (!key) return 'noSuchKey';
    if (!this.usagePlanIds.includes(usagePlanId)) return 'noSuchPlan';
    if (key.usagePlanIds.includes(usagePlanId)) return 'alreadyInPlan';
    if (key.usagePlanIds.length > 0) return 'inAnotherPlan';
    this.keys.set(id, { ...key, usagePlanIds: [usagePlanId] });
    this.save();
    return 'attached';
  }

  detach(id: string, usagePlanId: string): boolean {
    const key = this.keys.get(id);
    if (!key || !key.usagePlanIds.includes(usagePlanId)) return false;
    this.keys.set(id, { ...key, usagePlanIds: key.usagePlanIds.filter((plan) => plan !== usagePlanId) });
    this.save();
    return true;
  }

  private save(): void {
    if (this.file) writeJsonAtomically(this.file, this.all());
  }
}

const API_KEY = /^\/apikeys\/([^/]+)$/;
const PLAN_KEYS = /^\/usageplans\/([^/]+)\/keys$/;
const PLAN_KEY = /^\/usageplans\/([^/]+)\/keys\/([^/]+)$/;

/**
 * CreateApiKey (`POST /apikeys`), DeleteApiKey (`DELETE /apikeys/{id}`),
 * CreateUsagePlanKey (`POST /usageplans/{id}/keys`) and DeleteUsagePlanKey
 * (`DELETE /usageplans/{id}/keys/{keyId}`), answered as API Gateway does,
 * errors named in `x-amzn-ErrorType`. Request signatures are not checked:
 * it listens on loopback only and refuses requests for any other host or
 * from a browser page (an Origin header).
 */
export function createLocalApiGatewayApi(registry: LocalGatewayKeyRegistry, log: (line: string) => void = () => undefined): Server {
  const send = (res: ServerResponse, statusCode: number, body?: unknown, errorType?: string) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.statusCode = statusCode;
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('x-amzn-RequestId', randomBytes(16).toString('hex'));
    if (errorType) res.setHeader('x-amzn-ErrorType', errorType);
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(text);
  };
  const fail = (res: ServerResponse, statusCode: number, errorType: string, message: string) => send(res, statusCode, { message }, errorType);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (foreignRequestProblem(req, { refuseOrigin: true })) {
      return fail(res, 403, 'AccessDeniedException', 'the local API Gateway API answers only this machine');
    }
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    const body = req.method === 'POST' ? await readJson(req) : {};
    if (body === undefined) return fail(res, 400, 'BadRequestException', 'Invalid request body');

    if (req.method === 'POST' && path === '/apikeys') {
      const { name, value, enabled, description } = body as { name?: unknown; value?: unknown; enabled?: unknown; description?: unknown };
      if (typeof value !== 'string' || value.length < 20) return fail(res, 400, 'BadRequestException', 'API Key value should be at least 20 characters');
      const key = registry.create(typeof name === 'string' ? name : '', value, enabled === true);
      if (key === 'valueTaken') return fail(res, 409, 'ConflictException', 'API Key value already exists');
      log(`api gateway: created key ${key.id}`);
      const created = Math.floor(Date.parse(key.createdDate) / 1000);
      return send(res, 201, { id: key.id, value: key.value, name: key.name, description, enabled: key.enabled, createdDate: created, lastUpdatedDate: created, stageKeys: [] });
    }
    let match = API_KEY.exec(path);
    if (req.method === 'DELETE' && match) {
      if (!registry.remove(decodeURIComponent(match[1]!))) return fail(res, 404, 'NotFoundException', 'Invalid API Key identifier specified');
      log(`api gateway: deleted key ${match[1]}`);
      return send(res, 202);
    }
    match = PLAN_KEYS.exec(path);
    if (req.method === 'POST' && match) {
      const usagePlanId = decodeURIComponent(match[1]!);
      const { keyId, keyType } = body as { keyId?: unknown; keyType?: unknown };
      if (typeof keyId !== 'string' || keyType !== 'API_KEY') return fail(res, 400, 'BadRequestException', 'keyId and keyType API_KEY are required');
      const outcome = registry.attach(keyId, usagePlanId);
      if (outcome === 'noSuchKey') return fail(res, 404, 'NotFoundException', 'Invalid API Key identifier specified');
      if (outcome === 'noSuchPlan') return fail(res, 404, 'NotFoundException', 'Invalid Usage Plan ID specified');
      if (outcome === 'alreadyInPlan') return fail(res, 409, 'ConflictException', 'Usage Plan Key already exists');
      if (outcome === 'inAnotherPlan') return fail(res, 409, 'ConflictException', 'API Key cannot reference multiple Usage Plans with the same API Stage');
      log(`api gateway: key ${keyId} added to usage plan ${usagePlanId}`);
      const key = registry.get(keyId)!;
      return send(res, 201, { id: key.id, type: 'API_KEY', value: key.value, name: key.name });
    }
    match = PLAN_KEY.exec(path);
    if (req.method === 'DELETE' && match) {
      const [usagePlanId, keyId] = [decodeURIComponent(match[1]!), decodeURIComponent(match[2]!)];
      if (!registry.detach(keyId, usagePlanId)) return fail(res, 404, 'NotFoundException', 'Invalid Usage Plan Key identifier specified');
      log(`api gateway: key ${keyId} removed from usage plan ${usagePlanId}`);
      return send(res, 202);
    }
    fail(res, 404, 'NotFoundException', `${req.method} ${path} is not supported by the local API Gateway API`);
  };

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`api gateway api error: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) fail(res, 500, 'InternalFailure', 'local API Gateway API error');
      else res.destroy();
    });
  });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req, 64 * 1024);
  if (!body) return undefined;
  const text = body.toString('utf8');
  if (text.trim() === '') return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
