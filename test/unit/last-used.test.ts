import { lastUsedRecorder } from '../../functions/domain/last-used';

/**
 * The once-per-interval rule of lastUsedAt recording, with a clock the test
 * moves. The write itself (a conditional UpdateItem) is tested against
 * DynamoDB Local in test/integration/key-lifecycle.test.ts.
 */
function recorder(options: { intervalMs?: number; maxTracked?: number; fail?: boolean } = {}) {
  const writes: { keyHash: string; at: string }[] = [];
  const errors: string[] = [];
  const deferred: (() => void)[] = [];
  const record = lastUsedRecorder({
    intervalMs: options.intervalMs ?? 60_000,
    maxTracked: options.maxTracked,
    write: async (keyHash, at) => {
      writes.push({ keyHash, at });
      if (options.fail) throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
    },
    onError: (error, keyId) => errors.push(`${keyId}: ${(error as Error).name}`),
    defer: (start) => deferred.push(start),
  });
  const flush = async () => {
    for (const start of deferred.splice(0)) start();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { record, writes, errors, flush, deferred };
}

const at = (seconds: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, seconds));

test('writes once per key per interval, and only after the answer (deferred)', async () => {
  const { record, writes, flush, deferred } = recorder({ intervalMs: 60_000 });
  record('h1', 'key_1', at(0));
  expect(writes).toEqual([]);
  expect(deferred).toHaveLength(1);
  await flush();
  expect(writes).toEqual([{ keyHash: 'h1', at: at(0).toISOString() }]);

  record('h1', 'key_1', at(30));
  record('h1', 'key_1', at(59));
  record('h2', 'key_2', at(59));
  await flush();
  expect(writes.map((w) => w.keyHash)).toEqual(['h1', 'h2']);

  record('h1', 'key_1', at(60));
  await flush();
  expect(writes.at(-1)).toEqual({ keyHash: 'h1', at: at(60).toISOString() });
});

test('a failed write is reported and tried again on the next use', async () => {
  const { record, writes, errors, flush } = recorder({ fail: true });
  record('h1', 'key_1', at(0));
  await flush();
  expect(errors).toEqual(['key_1: ThrottlingException']);
  record('h1', 'key_1', at(1));
  await flush();
  expect(writes).toHaveLength(2);
});

test('memory stays bounded: past maxTracked keys, entries older than the interval are dropped first', async () => {
  const { record, writes, flush } = recorder({ intervalMs: 10_000, maxTracked: 3 });
  for (const [i, hash] of ['a', 'b', 'c'].entries()) record(hash, `key_${hash}`, at(i));
  // Full; a and b are at least an interval old at t=11 and are forgotten to make room for d; c is kept.
  record('d', 'key_d', at(11));
  record('c', 'key_c', at(11));
  record('a', 'key_a', at(11));
  await flush();
  expect(writes.map((w) => w.keyHash)).toEqual(['a', 'b', 'c', 'd', 'a']);
});

test('memory stays bounded: full of keys all used within the interval, it starts over', async () => {
  const { record, writes, flush } = recorder({ intervalMs: 10_000, maxTracked: 2 });
  record('a', 'key_a', at(0));
  record('b', 'key_b', at(1));
  record('c', 'key_c', at(2)); // nothing is old enough: everything is forgotten, then c remembered
  record('c', 'key_c', at(3));
  record('a', 'key_a', at(3)); // forgotten, so written again within its interval
  await flush();
  expect(writes.map((w) => w.keyHash)).toEqual(['a', 'b', 'c', 'a']);
});
