import { credentialsFromEnvironment } from './credentials';
import { resolveEndpoint, type ServiceEndpointId } from './endpoint';
import { serviceError } from './errors';
import { postHttp, type HttpTimeouts } from './http';
import { Retrier, maxAttemptsFrom } from './retry';
import { requestSigner, type SignableRequest } from './signer';

type Env = Readonly<Record<string, string | undefined>>;

/** An AWS service spoken to with the JSON protocol (`X-Amz-Target: <prefix>.<Operation>`). */
export interface AwsJsonService extends ServiceEndpointId {
  readonly targetPrefix: string;
  readonly jsonVersion: '1.0' | '1.1';
  /** The SDK client's own defaults for this service. */
  readonly defaultMaxAttempts: number;
  readonly baseDelayMs: number;
}

export interface AwsJsonClientOptions {
  /** Where region, credentials, endpoint and AWS_MAX_ATTEMPTS are read from. @default process.env */
  readonly env?: Env;
  /** @default 1000 */
  readonly connectionTimeoutMs?: number;
  /** @default 3000 */
  readonly requestTimeoutMs?: number;
  /** Attempts per call, the first included. @default AWS_MAX_ATTEMPTS, else the service's SDK default */
  readonly maxAttempts?: number;
}

interface Resolved {
  readonly url: URL;
  readonly sign: (request: SignableRequest) => Promise<Record<string, string>>;
  readonly retrier: Retrier;
}

/**
 * A client for one AWS JSON-protocol service: sign, send, retry, throw the
 * service's error as the SDK would. Configuration is read on the first call,
 * as the SDK resolves its own, so building a client at module scope costs no I/O
 * and a configuration error fails the call that needs it, not the cold start.
 */
export class AwsJsonClient {
  private resolved: Resolved | undefined;
  private readonly env: Env;
  private readonly timeouts: HttpTimeouts;

  constructor(
    private readonly service: AwsJsonService,
    private readonly options: AwsJsonClientOptions = {},
  ) {
    this.env = options.env ?? process.env;
    this.timeouts = { connectionTimeoutMs: options.connectionTimeoutMs ?? 1000, requestTimeoutMs: options.requestTimeoutMs ?? 3000 };
  }

  private resolve(): Resolved {
    if (this.resolved) return this.resolved;
    const { url, region } = resolveEndpoint(this.service, this.env);
    const maxAttempts = this.options.maxAttempts ?? maxAttemptsFrom(this.env, this.service.defaultMaxAttempts);
    this.resolved = {
      url,
      sign: requestSigner(this.service.signingName, region, () => credentialsFromEnvironment(this.env)),
      retrier: new Retrier({ maxAttempts, baseDelayMs: this.service.baseDelayMs }),
    };
    return this.resolved;
  }

  async call<Output>(operation: string, input: object): Promise<Output> {
    const { url, sign, retrier } = this.resolve();
    const body = JSON.stringify(input);
    const headers = {
      'content-type': `application/x-amz-json-${this.service.jsonVersion}`,
      'content-length': String(Buffer.byteLength(body)),
      'x-amz-target': `${this.service.targetPrefix}.${operation}`,
    };
    return retrier.run(async () => {
      // Signed per attempt: the signature carries the time, and a retry may come seconds later.
      const response = await postHttp(url, await sign({ url, headers, body }), body, this.timeouts);
      if (response.statusCode < 200 || response.statusCode >= 300) throw serviceError(response);
      return (response.body === '' ? {} : JSON.parse(response.body)) as Output;
    });
  }
}
