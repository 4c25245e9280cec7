/**
 * `npm start`: the whole keygate system on this machine (see lib/local/stack.ts).
 * Environment: PORT (API, default 3000), LAMBDA_PORT (Lambda Invoke API,
 * default 3001), DYNAMODB_PORT (default: a free port), KEYGATE_HOME (data
 * folder, default .keygate/), KEYGATE_PLANS (JSON list of plans, default the
 * stack's tiers) and KEYGATE_DEFAULT_PLAN ('' for none). 0 picks a free port.
 * The construct's scope, base path, header and legacy key settings come from
 * the variables it sets on the functions (KEYGATE_APP_SCOPE, KEYGATE_BASE_PATH,
 * ...; see lib/shared/environment.ts).
 */
import { AUTHORIZATION_HEADER, appBasePath, type AuthSettings } from '../lib/shared/auth-settings';
import { keygateHome } from '../lib/local/home';
import { plansFromEnv, startLocalStack, type LocalStack } from '../lib/local/stack';

function portFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`keygate: ${name} must be a port number (0 picks a free one), got '${raw}'`);
    process.exit(1);
  }
  return port;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** How a key is sent under the settings, e.g. `x-api-key: kg_...`. */
function keyHeaderLine(auth: AuthSettings, key: string): string {
  return auth.apiKeyHeader === AUTHORIZATION_HEADER ? `Authorization: Bearer ${key}` : `${auth.apiKeyHeader}: ${key}`;
}

function settingsLine(auth: AuthSettings): string {
  const header = auth.apiKeyHeader === AUTHORIZATION_HEADER ? 'Authorization: Bearer' : `${auth.apiKeyHeader}${auth.acceptBearerKeys ? ' or Authorization: Bearer' : ''}`;
  const legacy = auth.legacyKeys ? `; legacy keys /${auth.legacyKeys.pattern}/ (${auth.legacyKeys.minLength}-${auth.legacyKeys.maxLength} chars)` : '';
  return `  API keys in ${header}; Allow scoped by ${auth.appScope}; routes under ${auth.basePath}${legacy}`;
}

function printBanner(stack: LocalStack): void {
  const { info, demo, auth } = stack;
  const base = `${info.apiUrl}${appBasePath(auth.basePath, demo.appUid)}`;
  const lines = [
    `keygate local API: ${info.apiUrl}`,
    `  Lambda Invoke API: ${info.lambdaEndpoint}   DynamoDB Local: ${info.dynamodbEndpoint}   data: ${keygateHome()}`,
    settingsLine(auth),
    `  ready in ${stack.startupMs} ms (${Object.entries(stack.phases).map(([phase, ms]) => `${phase} ${ms}`).join(', ')})`,
    info.plans.length > 0
      ? `  plans: ${info.plans.join(', ')} (429 above an app's plan; keygate apps set-plan --app <appUid> --plan <plan>)`
      : '  plans: off (KEYGATE_PLANS=[])',
    '',
  ];
  if (demo.apiKey) {
    lines.push(
      `Demo key for app '${demo.appUid}' (${demo.keyId}); it is shown only this once and stored nowhere:`,
      '',
      `  ${demo.apiKey}`,
      '',
      'Try it:',
      '',
      `  curl -s ${base}/whoami -H ${shellQuote(keyHeaderLine(auth, demo.apiKey))}`,
      `  curl -s -X POST ${base}/sdkusers/auth -H ${shellQuote(keyHeaderLine(auth, demo.apiKey))} -H 'content-type: application/json' -d '{"externalId":"user-1","name":"Ada"}'`,
      `  curl -s ${base}/sdkusers/me -H 'Authorization: Bearer <authToken from sdkusers/auth>'`,
    );
  } else {
    lines.push(
      `The demo key for app '${demo.appUid}' (${demo.keyId}) was printed on the first start and is not stored; make another with:`,
      `  npm run --silent keygate -- keys create --app ${demo.appUid} --name me`,
    );
  }
  lines.push('', 'Ctrl-C stops the stack.', '');
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      ...plansFromEnv(process.env),
      home: keygateHome(),
      port: portFromEnv('PORT'),
      lambdaPort: portFromEnv('LAMBDA_PORT'),
      dynamodbPort: portFromEnv('DYNAMODB_PORT'),
      log: (line) => process.stderr.write(`[keygate] ${line}\n`),
    });
  } catch (error) {
    console.error(`keygate: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    process.exit(1);
  }
  printBanner(stack);

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`[keygate] ${signal}: stopping\n`);
    stack.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`keygate: stopping failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  process.on('SIGHUP', shutdown);
}

void main();
