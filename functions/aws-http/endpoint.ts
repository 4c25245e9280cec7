type Env = Readonly<Record<string, string | undefined>>;

/** What the SDK knows of a service to find its endpoint. */
export interface ServiceEndpointId {
  /** Endpoint prefix and signing name, e.g. `dynamodb`. */
  readonly signingName: string;
  /** The service id as the SDK's per-service endpoint variable spells it, e.g. `DYNAMODB`, `SECRETS_MANAGER`. */
  readonly envSuffix: string;
}

export interface ResolvedEndpoint {
  readonly url: URL;
  readonly region: string;
}

const configurationError = (message: string) => Object.assign(new Error(message), { name: 'ConfigurationError' });

/**
 * The endpoint the SDK would use in the same environment: region from
 * AWS_REGION; `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`, unless
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true (the local stack and the tests
 * point DynamoDB at DynamoDB Local this way); else the regional endpoint.
 * FIPS and dual-stack endpoints are refused, not silently ignored: this
 * client does not know their host names.
 */
export function resolveEndpoint(service: ServiceEndpointId, env: Env): ResolvedEndpoint {
  const region = env.AWS_REGION;
  if (!region) throw configurationError('Region is missing: AWS_REGION is not set');
  for (const flag of ['AWS_USE_FIPS_ENDPOINT', 'AWS_USE_DUALSTACK_ENDPOINT']) {
    if (env[flag] === 'true') throw configurationError(`${flag}=true is not supported by keygate's authorizer client; set AWS_ENDPOINT_URL_${service.envSuffix} instead`);
  }
  const ignoreConfigured = env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === 'true';
  const configured = ignoreConfigured ? undefined : env[`AWS_ENDPOINT_URL_${service.envSuffix}`] || env.AWS_ENDPOINT_URL;
  if (configured) {
    try {
      return { url: new URL(configured), region };
    } catch {
      throw configurationError(`the endpoint URL for ${service.signingName} is not a valid URL: '${configured}'`);
    }
  }
  if (!/^[a-z0-9-]+$/.test(region)) throw configurationError(`AWS_REGION is not a region name: '${region}'`);
  const dnsSuffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return { url: new URL(`https://${service.signingName}.${region}.${dnsSuffix}/`), region };
}
