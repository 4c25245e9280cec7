const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Reads until `read` gives a value: for what a handler writes after it has
 * answered (lastUsedAt). Throws when nothing came within `timeoutMs`.
 */
export async function eventually<T>(read: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  for (const started = Date.now(); Date.now() - started < timeoutMs; await sleep(20)) {
    const value = await read();
    if (value !== undefined) return value;
  }
  throw new Error('timed out');
}
