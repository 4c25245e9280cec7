import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { bundleFile } from '../../lib/construct/function-bundles';
import { ENV } from '../../lib/shared/environment';
import { FUNCTIONS, type FunctionId } from '../../lib/shared/functions';

/**
 * What Lambda gives every function in these tests: region, the dummy
 * credentials DynamoDB Local takes, the AWS endpoints, logs at INFO, and this
 * file's table names.
 */
export function builtBundleEnvironment(tables: { readonly Keys: string; readonly Sessions: string; readonly Users: string }, dynamodbEndpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB): Record<string, string | undefined> {
  return {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    [ENV.keysTable]: tables.Keys,
    [ENV.sessionsTable]: tables.Sessions,
    [ENV.usersTable]: tables.Users,
  };
}

export type BuiltInvocation =
  | { readonly ok: true; readonly value: unknown; readonly logs: Record<string, unknown>[] }
  | { readonly ok: false; readonly errorType: string; readonly errorMessage: string; readonly logs: Record<string, unknown>[] };

/**
 * Invokes the built bundle of a function (dist/functions, what deploys) once,
 * in a fresh Node process with only the given environment plus AWS settings,
 * and reports what the Lambda Node.js runtime would: the result, or the
 * thrown error's `name` as `errorType`. `logs` are the JSON lines it printed
 * on stdout and stderr.
 */
export async function invokeBuiltBundle(fn: FunctionId, event: unknown, env: Record<string, string | undefined>): Promise<BuiltInvocation> {
  const script = `
    const { handler } = await import(${JSON.stringify(pathToFileURL(bundleFile(FUNCTIONS[fn])).href)});
    const context = { awsRequestId: 'req-built-bundle', functionName: ${JSON.stringify(FUNCTIONS[fn].name)}, getRemainingTimeInMillis: () => 10000 };
    let outcome;
    try {
      outcome = { ok: true, value: await handler(${JSON.stringify(event)}, context) };
    } catch (error) {
      outcome = { ok: false, errorType: error.name, errorMessage: error.message };
    }
    process.stdout.write('\\n@@outcome ' + JSON.stringify(outcome) + '\\n');`;
  const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const lines = stdout.split('\n');
  const outcomeLine = lines.find((line) => line.startsWith('@@outcome '));
  if (!outcomeLine) throw new Error(`the ${fn} bundle did not finish (exit ${code}):\n${stdout}\n${stderr}`);
  // Lambda sends both streams to the function's log group; Powertools writes WARN and ERROR to stderr.
  const logs = [...lines, ...stderr.split('\n')].filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
  return { ...(JSON.parse(outcomeLine.slice('@@outcome '.length)) as BuiltInvocation), logs };
}
