// The local stack's function host: a worker thread that imports the bundles with
// Node's own ES module loader (no tsx hooks, so loading is several times faster)
// and runs invocations as the Lambda Node.js runtime would. Plain JavaScript on
// purpose: it runs without any TypeScript loader. See function-host.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';

// A Map, not an object: a function name is never resolved through Object.prototype.
const handlers = new Map();
try {
  for (const [key, bundlePath] of Object.entries(workerData.bundles)) {
    const module = await import(pathToFileURL(bundlePath).href);
    if (typeof module.handler !== 'function') throw new Error(`${bundlePath} exports no handler function`);
    handlers.set(key, module.handler);
  }
  parentPort.postMessage({ type: 'ready' });
} catch (error) {
  parentPort.postMessage({ type: 'failed', message: error instanceof Error ? error.stack || error.message : String(error) });
}

function serializeError(error) {
  if (error instanceof Error) return { errorType: error.name || 'Error', errorMessage: error.message, trace: (error.stack || '').split('\n') };
  // The Node.js runtime reports a thrown non-Error as a string.
  return { errorType: 'string', errorMessage: typeof error === 'string' ? error : String(JSON.stringify(error)) };
}

parentPort.on('message', async ({ id, key, event, context }) => {
  const handler = handlers.get(key);
  const lambdaContext = {
    ...context,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, context.deadline - Date.now()),
  };
  try {
    const value = await new Promise((resolve, reject) => {
      const callback = (error, result) => (error ? reject(error) : resolve(result));
      const returned = handler.length >= 3 ? handler(event, lambdaContext, callback) : handler(event, lambdaContext);
      if (handler.length < 3 || typeof returned?.then === 'function') Promise.resolve(returned).then(resolve, reject);
    });
    // Lambda returns the result serialized as JSON.
    parentPort.postMessage({ id, ok: true, json: value === undefined ? 'null' : (JSON.stringify(value) ?? 'null') });
  } catch (error) {
    parentPort.postMessage({ id, ok: false, error: serializeError(error) });
  }
});
