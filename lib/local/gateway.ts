import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { FUNCTIONS, type FunctionId } from '../shared/functions';
import { gatewayResponseCorsHeaders, preflightHeaders } from '../shared/cors';
import { API_BASE_PATH, AUTHORIZERS, routeResourcePath, sessionRouteMethods, type AuthorizerDefinition, type AuthorizerKind, type RouteDefinition } from '../shared/routes';
import { invokeHandler, LOCAL_ACCOUNT_ID, LOCAL_REGION, type LambdaHandler } from './lambda-runtime';
import { foreignRequestProblem, readBody } from './loopback';
import { evaluatePolicy, InvalidPolicy } from './policy-evaluation';
import { PLAN_GATEWAY_RESPONSES } from '../shared/plans';
import type { UsagePlanEnforcer } from './usage-plans';

/**
 * A local stand-in for the API Gateway REST API the stack deploys: the same
 * route table, REQUEST Lambda authorizers with API Gateway's semantics (no
 * result caching, as in the default stack), public routes with no authorizer,
 * and Lambda proxy integrations.
 * Handlers are injected: `npm start` passes the bundles that deploy, unit
 * tests pass small fakes.
 */
export interface LocalGatewayOptions {
  readonly routes: readonly RouteDefinition[];
  readonly handlers: Partial<Record<FunctionId, LambdaHandler>>;
  /** Identity sources per authorizer; `npm start` derives them from the same settings as the construct. @default AUTHORIZERS */
  readonly authorizers?: Readonly<Record<AuthorizerKind, AuthorizerDefinition>>;
  /** Where the routes live (the `basePath` setting). @default API_BASE_PATH */
  readonly basePath?: string;
  /** Stage name in method ARNs and requestContext. @default 'local' */
  readonly stage?: string;
  /** API id in method ARNs and requestContext. @default 'local' */
  readonly apiId?: string;
  /** API Gateway's integration timeout. @default 29000 */
  readonly integrationTimeoutMs?: number;
  /** Lambda authorizer timeout (API Gateway allows 30 s at most). @default 30000 */
  readonly authorizerTimeoutMs?: number;
  /** One line per request (method, path, status, ms, request id) or gateway problem; never headers or bodies. */
  readonly log?: (line: string) => void;
  /**
   * Usage plans (keygate's plans on): every route with an authorizer then
   * requires the API key the authorizer returns as `usageIdentifierKey`, as
   * with the stack's `apiKeyRequired` methods and key source AUTHORIZER;
   * public routes do not. @default none
   */
  readonly usagePlans?: UsagePlanEnforcer;
  /**
   * Origins the session routes answer CORS for, as the construct's
   * `corsAllowedOrigins` deploys it: preflights on session routes, and the
   * headers on gateway responses. The functions add theirs themselves.
   * @default [] (no CORS)
   */
  readonly corsAllowedOrigins?: readonly string[];
}

/** API Gateway's largest REST API payload. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** API Gateway's default gateway responses, as a REST API without customisations sends them. */
export const GATEWAY_RESPONSES = {
  missingAuthenticationToken: { statusCode: 403, errorType: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' },
  unauthorized: { statusCode: 401, errorType: 'UnauthorizedException', message: 'Unauthorized' },
  accessDenied: { statusCode: 403, errorType: 'AccessDeniedException', message: 'User is not authorized to access this resource' },
  explicitDeny: { statusCode: 403, errorType: 'AccessDeniedException', message: 'User is not authorized to access this resource with an explicit deny' },
  authorizerConfigurationError: { statusCode: 500, errorType: 'AuthorizerConfigurationException', message: null },
  integrationFailure: { statusCode: 502, errorType: 'InternalServerErrorException', message: 'Internal server error' },
  integrationTimeout: { statusCode: 504, errorType: 'InternalServerErrorException', message: 'Endpoint request timed out' },
  requestTooLarge: { statusCode: 413, errorType: 'RequestTooLargeException', message: 'Request Too Long' },
  throttled: PLAN_GATEWAY_RESPONSES.THROTTLED,
  quotaExceeded: PLAN_GATEWAY_RESPONSES.QUOTA_EXCEEDED,
  forbidden: { statusCode: 403, errorType: 'ForbiddenException', message: 'Forbidden' },
} as const;

type GatewayResponse = { readonly statusCode: number; readonly errorType: string; readonly message: string | null; readonly headers?: Readonly<Record<string, string>> };

interface CompiledRoute {
  readonly route: RouteDefinition;
  readonly resource: string;
  readonly pattern: RegExp;
  readonly parameterNames: readonly string[];
}

function compileRoute(route: RouteDefinition, basePath: string): CompiledRoute {
  return { route, ...compileResource(routeResourcePath(route, basePath)) };
}

function compileResource(resource: string): Omit<CompiledRoute, 'route'> {
  const parameterNames: string[] = [];
  const source = resource
    .split('/')
    .map((segment) => {
      const parameter = /^\{([A-Za-z0-9_]+)\}$/.exec(segment);
      if (!parameter) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      parameterNames.push(parameter[1]!);
      return '([^/]+)';
    })
    .join('/');
  return { resource, pattern: new RegExp(`^${source}$`), parameterNames };
}

/** Request parts as API Gateway hands them to authorizers and integrations. */
interface RequestParts {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly multiValueHeaders: Record<string, string[]>;
  readonly queryStringParameters: Record<string, string> | null;
  readonly multiValueQueryStringParameters: Record<string, string[]> | null;
  readonly sourceIp: string;
}

/**
 * A map with no prototype: a client picks header, query and path parameter
 * names, and `constructor` or `__proto__` must be plain keys, not
 * Object.prototype's members.
 */
function dictionary<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function requestParts(req: IncomingMessage): RequestParts {
  const url = new URL(req.url ?? '/', 'http://local');
  // Header names as the client sent them; repeated headers: the last value, all values in multiValueHeaders.
  const headers = dictionary<string>();
  const multiValueHeaders = dictionary<string[]>();
  const nameFor = new Map<string, string>();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const rawName = req.rawHeaders[i]!;
    const value = req.rawHeaders[i + 1]!;
    const name = nameFor.get(rawName.toLowerCase()) ?? rawName;
    nameFor.set(rawName.toLowerCase(), name);
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  let queryStringParameters: Record<string, string> | null = null;
  let multiValueQueryStringParameters: Record<string, string[]> | null = null;
  for (const [name, value] of url.searchParams) {
    (queryStringParameters ??= dictionary())[name] = value;
    ((multiValueQueryStringParameters ??= dictionary())[name] ??= []).push(value);
  }
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    headers,
    multiValueHeaders,
    queryStringParameters,
    multiValueQueryStringParameters,
    sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
  };
}

function headerValue(parts: RequestParts, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(parts.headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}


/** A proxy result API Gateway accepts, or undefined for a malformed one (API Gateway's 502). */
export function parseProxyResult(result: unknown): { statusCode: number; headers: [string, string][]; body: Buffer } | undefined {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return undefined;
  const allowed = new Set(['statusCode', 'headers', 'multiValueHeaders', 'body', 'isBase64Encoded']);
  if (Object.keys(result).some((key) => !allowed.has(key))) return undefined;
  const { statusCode, headers, multiValueHeaders, body, isBase64Encoded } = result as Record<string, unknown>;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) return undefined;
  const scalar = (value: unknown) => typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
  const pairs: [string, string][] = [];
  if (headers !== undefined && headers !== null) {
    if (typeof headers !== 'object' || Array.isArray(headers)) return undefined;
    for (const [name, value] of Object.entries(headers)) {
      if (!scalar(value)) return undefined;
      pairs.push([name, String(value)]);
    }
  }
  if (multiValueHeaders !== undefined && multiValueHeaders !== null) {
    if (typeof multiValueHeaders !== 'object' || Array.isArray(multiValueHeaders)) return undefined;
    for (const [name, values] of Object.entries(multiValueHeaders)) {
      if (!Array.isArray(values) || !values.every(scalar)) return undefined;
      for (const value of values) pairs.push([name, String(value)]);
    }
  }
  if (body !== undefined && body !== null && typeof body !== 'string') return undefined;
  if (isBase64Encoded !== undefined && isBase64Encoded !== null && typeof isBase64Encoded !== 'boolean') return undefined;
  const text = body ?? '';
  return { statusCode, headers: pairs, body: isBase64Encoded ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8') };
}

/** Authorizer context values must be scalars; the integration sees them as strings. */
function authorizerContext(context: unknown): Record<string, string> | undefined {
  if (context === undefined || context === null) return dictionary();
  if (typeof context !== 'object' || Array.isArray(context)) return undefined;
  const values = dictionary<string>();
  for (const [name, value] of Object.entries(context)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return undefined;
    values[name] = String(value);
  }
  return values;
}

export function createLocalGateway(options: LocalGatewayOptions): Server {
  const basePath = options.basePath ?? API_BASE_PATH;
  const routes = options.routes.map((route) => compileRoute(route, basePath));
  const authorizers = options.authorizers ?? AUTHORIZERS;
  const stage = options.stage ?? 'local';
  const apiId = options.apiId ?? 'local';
  const integrationTimeoutMs = options.integrationTimeoutMs ?? 29_000;
  const authorizerTimeoutMs = options.authorizerTimeoutMs ?? 30_000;
  const log = options.log ?? (() => undefined);
  const corsOrigins = options.corsAllowedOrigins ?? [];
  // Session resources and their methods: each gets an OPTIONS mock method when origins are allowed.
  const preflights = corsOrigins.length === 0 ? [] : [...sessionRouteMethods(options.routes, basePath)].map(([resource, methods]) => ({ ...compileResource(resource), methods }));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = Date.now();
    const requestId = randomUUID();
    const parts = requestParts(req);
    const send = (statusCode: number, headers: [string, string][], body: Buffer) => {
      const names = new Set(headers.map(([name]) => name.toLowerCase()));
      const out: [string, string][] = [...headers];
      if (!names.has('content-type')) out.push(['Content-Type', 'application/json']);
      out.push(['x-amzn-RequestId', requestId]);
      res.statusCode = statusCode;
      for (const [name, value] of out) res.appendHeader(name, value);
      if (statusCode !== 204) res.setHeader('Content-Length', body.length);
      res.end(body);
      // The request id is the functions' `apiRequestId` and the client's x-amzn-RequestId: one id to follow a request by.
      log(`${parts.method} ${parts.path} ${statusCode} ${Date.now() - started}ms ${requestId}`);
    };
    const origin = headerValue(parts, 'origin');
    const gatewayResponse = (response: GatewayResponse, note?: string) => {
      if (note) log(`${parts.method} ${parts.path}: ${note}`);
      const cors = Object.entries(gatewayResponseCorsHeaders(corsOrigins, origin));
      send(response.statusCode, [['x-amzn-ErrorType', response.errorType], ...Object.entries(response.headers ?? {}), ...cors], Buffer.from(JSON.stringify({ message: response.message })));
    };

    // A page that rebinds its own host name to 127.0.0.1 sends that name: refused. Origins are not, since
    // browsers holding session tokens may call the API as they would a deployed one.
    const foreign = foreignRequestProblem(req, { refuseOrigin: false });
    if (foreign) return gatewayResponse(GATEWAY_RESPONSES.forbidden, foreign);

    if (parts.method === 'OPTIONS') {
      const preflight = preflights.find((candidate) => candidate.pattern.test(parts.path));
      if (preflight) {
        req.resume();
        return send(204, Object.entries(preflightHeaders(corsOrigins, preflight.methods, origin)), Buffer.alloc(0));
      }
    }

    let matched: { compiled: CompiledRoute; pathParameters: Record<string, string> | null } | undefined;
    for (const compiled of routes) {
      if (compiled.route.method !== parts.method) continue;
      const match = compiled.pattern.exec(parts.path);
      if (!match) continue;
      try {
        const pathParameters = dictionary<string>();
        compiled.parameterNames.forEach((name, index) => (pathParameters[name] = decodeURIComponent(match[index + 1]!)));
        // API Gateway sends null, not {}, for a route without path parameters.
        matched = { compiled, pathParameters: compiled.parameterNames.length > 0 ? pathParameters : null };
      } catch {
        // A malformed %-escape matches no resource.
      }
      break;
    }
    if (!matched) return gatewayResponse(GATEWAY_RESPONSES.missingAuthenticationToken);
    const { compiled, pathParameters } = matched;
    const { route, resource } = compiled;

    const body = await readBody(req, MAX_BODY_BYTES);
    if (!body) return gatewayResponse(GATEWAY_RESPONSES.requestTooLarge);

    const now = new Date();
    const requestContext = {
      accountId: LOCAL_ACCOUNT_ID,
      apiId,
      domainName: headerValue(parts, 'host') ?? '127.0.0.1',
      domainPrefix: (headerValue(parts, 'host') ?? '127').split('.')[0],
      extendedRequestId: requestId,
      httpMethod: parts.method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: parts.sourceIp,
        user: null,
        userAgent: headerValue(parts, 'user-agent') ?? null,
        userArn: null,
      },
      path: `/${stage}${parts.path}`,
      protocol: `HTTP/${req.httpVersion}`,
      requestId,
      requestTime: now.toISOString(),
      requestTimeEpoch: now.getTime(),
      resourceId: 'local',
      resourcePath: resource,
      stage,
    };
    const methodArn = `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${apiId}/${stage}/${parts.method}/${parts.path.replace(/^\//, '')}`;
    const common = {
      resource,
      path: parts.path,
      httpMethod: parts.method,
      headers: parts.headers,
      multiValueHeaders: parts.multiValueHeaders,
      queryStringParameters: parts.queryStringParameters,
      multiValueQueryStringParameters: parts.multiValueQueryStringParameters,
      pathParameters,
      stageVariables: null,
    };

    // REQUEST authorizer, unless the route is public: every identity source present and non-empty, or 401 without calling it.
    let authorizerOutput: Record<string, unknown> | undefined;
    let callerIdentity = requestContext.identity;
    if (route.authorizer !== 'none') {
      const authorizer = authorizers[route.authorizer];
      if (authorizer.identityHeaders.some((name) => !headerValue(parts, name))) return gatewayResponse(GATEWAY_RESPONSES.unauthorized);
      const authorizerHandler = options.handlers[authorizer.function];
      if (!authorizerHandler) return gatewayResponse(GATEWAY_RESPONSES.authorizerConfigurationError, `no handler for authorizer ${authorizer.function}`);
      const authorizerStarted = Date.now();
      const authorization = await invokeHandler(FUNCTIONS[authorizer.function].name, authorizerHandler, { type: 'REQUEST', methodArn, ...common, requestContext }, authorizerTimeoutMs);
      if (!authorization.ok) {
        if (authorization.error.errorMessage === 'Unauthorized') return gatewayResponse(GATEWAY_RESPONSES.unauthorized);
        return gatewayResponse(GATEWAY_RESPONSES.authorizerConfigurationError, `authorizer failed: ${authorization.error.errorType}`);
      }
      const output = authorization.value as { principalId?: unknown; policyDocument?: unknown; context?: unknown; usageIdentifierKey?: unknown } | null;
      const context = authorizerContext(output?.context);
      if (typeof output !== 'object' || output === null || typeof output.principalId !== 'string' || !context) {
        return gatewayResponse(GATEWAY_RESPONSES.authorizerConfigurationError, 'authorizer returned an invalid response');
      }
      let decision;
      try {
        decision = evaluatePolicy(output.policyDocument, methodArn);
      } catch (error) {
        if (!(error instanceof InvalidPolicy)) throw error;
        return gatewayResponse(GATEWAY_RESPONSES.authorizerConfigurationError, `authorizer returned an invalid policy: ${error.message}`);
      }
      if (decision === 'explicitDeny') return gatewayResponse(GATEWAY_RESPONSES.explicitDeny);
      if (decision === 'implicitDeny') return gatewayResponse(GATEWAY_RESPONSES.accessDenied);
      authorizerOutput = { ...context, principalId: output.principalId, integrationLatency: Date.now() - authorizerStarted };

      // Usage plans: the key the authorizer returned must be in a plan; its bucket and quota decide.
      if (options.usagePlans) {
        const usageKey = typeof output.usageIdentifierKey === 'string' ? output.usageIdentifierKey : undefined;
        const admission = options.usagePlans.admit(usageKey, route.method, route.path);
        // API Gateway answers a missing or unknown API key with its plain 403 Forbidden.
        if (!admission.ok) return gatewayResponse(GATEWAY_RESPONSES[admission.refusal]);
        callerIdentity = { ...callerIdentity, apiKey: usageKey!, apiKeyId: admission.gatewayKeyId } as unknown as typeof callerIdentity;
      }
    }

    // Lambda proxy integration. A public route's event has no authorizer context, as API Gateway sends it.
    const integration = options.handlers[route.function];
    if (!integration) return gatewayResponse(GATEWAY_RESPONSES.integrationFailure, `no handler for ${route.function}`);
    const event = {
      ...common,
      requestContext: authorizerOutput ? { ...requestContext, identity: callerIdentity, authorizer: authorizerOutput } : requestContext,
      body: body.length > 0 ? body.toString('utf8') : null,
      isBase64Encoded: false,
    };
    const invocation = await invokeHandler(FUNCTIONS[route.function].name, integration, event, integrationTimeoutMs);
    if (!invocation.ok) {
      if (invocation.error.errorType === 'Sandbox.Timedout') return gatewayResponse(GATEWAY_RESPONSES.integrationTimeout);
      return gatewayResponse(GATEWAY_RESPONSES.integrationFailure, `${route.function} failed: ${invocation.error.errorType}`);
    }
    const result = parseProxyResult(invocation.value);
    if (!result) return gatewayResponse(GATEWAY_RESPONSES.integrationFailure, `${route.function} returned a malformed Lambda proxy response`);
    send(result.statusCode, result.headers, result.body);
  };

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`gateway error: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ message: 'Internal server error' }));
      } else res.destroy();
    });
  });
}
