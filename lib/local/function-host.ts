import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { LambdaContext, LambdaHandler } from './lambda-runtime';

/**
 * Runs bundles in a worker thread with Node's own module loader, so the code
 * that runs is exactly the bundle, not what a TypeScript loader in the parent
 * (tsx, for `npm start`) makes of it, and loading is fast. Source maps are
 * on, as the CDK sets `--enable-source-maps` for bundles built with them.
 *
 * Like a Lambda sandbox that crashed, a worker that exits (an uncaught error
 * in a bundle) fails its pending invocations with `Runtime.ExitError` and is
 * replaced on the next invocation.
 */
export interface FunctionHost<K extends string> {
  /** One handler per bundle; each forwards the invocation to the worker. */
  readonly handlers: Record<K, LambdaHandler>;
  stop(): Promise<void>;
}

export interface FunctionHostOptions<K extends string> {
  readonly bundles: Readonly<Record<K, string>>;
  /** The functions' environment. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly log?: (line: string) => void;
}

type Reply = { id: number; ok: true; json: string } | { id: number; ok: false; error: { errorType: string; errorMessage: string; trace?: string[] } };

const WORKER_FILE = path.join(__dirname, 'function-host-worker.mjs');

export async function startFunctionHost<K extends string>(options: FunctionHostOptions<K>): Promise<FunctionHost<K>> {
  const log = options.log ?? (() => undefined);
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  let nextId = 1;
  let current: Promise<Worker> | undefined;
  let stopped = false;

  const spawn = (): Promise<Worker> =>
    new Promise((resolve, reject) => {
      const worker = new Worker(WORKER_FILE, {
        workerData: { bundles: options.bundles },
        // As the Lambda runtime sets it: Powertools reports `cold_start` only for on-demand initialization.
        env: { AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand', ...(options.env ?? process.env) },
        // No loader hooks from the parent; source maps like a deployed bundle with a source map.
        execArgv: ['--enable-source-maps'],
      });
      let ready = false;
      worker.on('message', (message: { type?: string; message?: string } & Partial<Reply>) => {
        if (message.type === 'ready') {
          ready = true;
          return resolve(worker);
        }
        if (message.type === 'failed') {
          void worker.terminate();
          return reject(new Error(`loading the function bundles failed: ${message.message}`));
        }
        const reply = message as Reply;
        const waiter = pending.get(reply.id);
        if (!waiter) return;
        pending.delete(reply.id);
        if (reply.ok) waiter.resolve(JSON.parse(reply.json));
        else waiter.reject(Object.assign(new Error(reply.error.errorMessage), { name: reply.error.errorType, stack: reply.error.trace?.join('\n') }));
      });
      worker.on('error', (error) => log(`function host: uncaught error in a function: ${error.message}`));
      worker.on('exit', (code) => {
        if (current) current = undefined;
        for (const [id, waiter] of pending) {
          pending.delete(id);
          waiter.reject(Object.assign(new Error(`RequestId: ${id} Error: Runtime exited with error: exit status ${code}`), { name: 'Runtime.ExitError' }));
        }
        if (!ready) reject(new Error(`the function host exited with code ${code} while loading the bundles`));
        else if (!stopped) log(`function host exited (code ${code}); the next invocation starts a new one`);
      });
    });

  const worker = () => (current ??= spawn());
  await worker();

  const handlers = {} as Record<K, LambdaHandler>;
  for (const key of Object.keys(options.bundles) as K[]) {
    handlers[key] = async (event: unknown, context: LambdaContext) => {
      const target = await worker();
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        const { callbackWaitsForEmptyEventLoop: _, getRemainingTimeInMillis, ...plain } = context;
        target.postMessage({ id, key, event, context: { ...plain, deadline: Date.now() + getRemainingTimeInMillis() } });
      });
    };
  }

  return {
    handlers,
    stop: async () => {
      stopped = true;
      const running = current;
      current = undefined;
      if (running) await (await running.catch(() => undefined))?.terminate();
    },
  };
}
