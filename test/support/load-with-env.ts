/**
 * Loads a function's handler module afresh with `env` set while its module
 * scope runs: handlers read their configuration once at init, as in Lambda,
 * so each configuration needs its own module instance.
 */
export function loadWithEnv<T>(absolutePath: string, env: Record<string, string>): T {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  try {
    let loaded: T | undefined;
    jest.isolateModules(() => {
      loaded = require(absolutePath) as T;
    });
    return loaded!;
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
