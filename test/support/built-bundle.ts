import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { bundleFile } from '../../lib/construct/function-bundles';
import { ENV } from '../../lib/shared/environment';
import { FUNCTIONS, type FunctionId } from '../../lib/shared/functions';
import type { TableNames } from '../../lib/local/tables';

/** What a bundle needs to run against this test file's tables in DynamoDB Local, logging at INFO. */
export function builtBundleEnv(tables: TableNames): Record<string, string | undefined> {
  return {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: process.env.AWS_ENDPOINT_URL_DYNAMODB,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    [ENV.keysTable]: tables.Keys,
    [ENV.sessionsTable]: tables.Sessions,
    [ENV.usersTable]: tables.Users,
    [ENV.localPepper]: process.env[ENV.localPepper],
  };
}

export type BuiltOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly errorType: string; readonly errorMessage: string };

export type BuiltInvocation = BuiltOutcome & { readonly logs: Record<string, unknown>[] };

/** One invocation (its Lambda request id defaults to `req-<n>`), or a pause between invocations. */
export type BuiltStep = { readonly event: unknown; readonly requestId?: string } | { readonly sleepMs: number };

/**
 * Invokes the built bundle of a function (dist/functions, what deploys) once,
 * in a fresh Node process with only the given environment plus AWS settings,
 * and reports what the Lambda Node.js runtime would: the result, or the
 * thrown error's `name` as `errorType`. `logs` are the JSON lines it printed
 * on stdout and stderr (log lines and EMF metric records).
 */
export async function invokeBuiltBundle(fn: FunctionId, event: unknown, env: Record<string, string | undefined>): Promise<BuiltInvocation> {
  const { outcomes, logs } = await runBuiltBundle(fn, [{ event, requestId: 'req-built-bundle' }], env);
  return { ...outcomes[0]!, logs };
}

/**
 * Runs `steps` against one instance of a built bundle, as one Lambda
 * container would: a cold start (`importMs`: how long the import, init
 * included, took), then warm invocations, each with a Lambda context of its
 * own (request id, function name, ...).
 */
export async function runBuiltBundle(
  fn: FunctionId,
  steps: readonly BuiltStep[],
  env: Record<string, string | undefined>,
): Promise<{ outcomes: BuiltOutcome[]; logs: Record<string, unknown>[]; importMs: number }> {
  const name = FUNCTIONS[fn].name;
  const script = `
    const started = performance.now();
    const { handler } = await import(${JSON.stringify(pathToFileURL(bundleFile(FUNCTIONS[fn])).href)});
    const importMs = performance.now() - started;
    const steps = JSON.parse(process.argv[1]);
    const outcomes = [];
    let n = 0;
    for (const step of steps) {
      if (step.sleepMs !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, step.sleepMs));
        continue;
      }
      n++;
      const context = {
        awsRequestId: step.requestId ?? 'req-' + n,
        functionName: ${JSON.stringify(name)},
        functionVersion: '$LATEST',
        invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:' + ${JSON.stringify(name)},
        memoryLimitInMB: '1024',
        getRemainingTimeInMillis: () => 10000,
      };
      try {
        outcomes.push({ ok: true, value: await handler(step.event, context) });
      } catch (error) {
        outcomes.push({ ok: false, errorType: error.name, errorMessage: error.message });
      }
    }
    process.stdout.write('\\n@@outcomes ' + JSON.stringify({ importMs, outcomes }) + '\\n');`;
  const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', script, JSON.stringify(steps)], {
    // The Lambda runtime sets the initialization type; Powertools reports cold starts only for 'on-demand'.
    env: { PATH: process.env.PATH, AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const lines = stdout.split('\n');
  const outcomesLine = lines.find((line) => line.startsWith('@@outcomes '));
  if (!outcomesLine) throw new Error(`the ${fn} bundle did not finish (exit ${code}):\n${stdout}\n${stderr}`);
  // Lambda sends both streams to the function's log group; Powertools writes WARN and ERROR to stderr.
  const logs = [...lines, ...stderr.split('\n')].filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
  const { importMs, outcomes } = JSON.parse(outcomesLine.slice('@@outcomes '.length)) as { importMs: number; outcomes: BuiltOutcome[] };
  return { outcomes, logs, importMs };
}

/** The EMF metric records among logged lines. */
export function metricRecords(logs: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return logs.filter((line) => typeof line._aws === 'object' && line._aws !== null);
}
