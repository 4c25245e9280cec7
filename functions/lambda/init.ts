/**
 * Work a function starts at module scope that its bundle awaits before the
 * handler is exported: the generated entry of each bundle (lib/build/bundles.ts)
 * ends with `await initialized()`, a top-level await, so in Lambda it runs
 * in the init phase (boosted CPU, and done before the first request rather
 * than during it). Import-free, so any handler can use it at no size cost.
 */
const started: Promise<unknown>[] = [];

/** The longest init waits for that work; what is still running then goes on, and requests wait for it. */
export const INIT_WAIT_LIMIT_MS = 5_000;

/** Registers work to finish during init. Its failure is the work's own business (log it); init never fails on it. */
export function duringInit(work: Promise<unknown>): void {
  started.push(work.then(ignore, ignore));
}

/** Settles when the registered work has, or after `limitMs`. Never rejects. */
export async function initialized(limitMs = INIT_WAIT_LIMIT_MS): Promise<void> {
  if (started.length === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, limitMs);
    timer.unref?.();
  });
  await Promise.race([Promise.all(started), limit]);
  clearTimeout(timer);
}

function ignore(): void {}
