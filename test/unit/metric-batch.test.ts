import { MetricBatch, type MetricSeries } from '../../functions/lambda/metrics';

/** The write policy of the functions' metrics, on a fake clock: what is written when, with which figures and time. */
type Written = { dimensions: Record<string, string>; counts: Record<string, number>; samples: Record<string, number[]>; timestamp: number };

function harness(intervalMs = 1000) {
  let now = 10_000;
  const written: Written[] = [];
  const batch = new MetricBatch(
    (series: MetricSeries, timestamp: number) =>
      written.push({
        dimensions: { ...series.dimensions },
        counts: Object.fromEntries(series.counts),
        samples: Object.fromEntries([...series.samples].map(([name, values]) => [name, [...values]])),
        timestamp,
      }),
    intervalMs,
    () => now,
  );
  const valid = batch.seriesFor('valid', { outcome: 'valid' });
  const malformed = batch.seriesFor('malformed', { outcome: 'malformed' });
  return { batch, written, valid, malformed, tick: (ms: number) => (now += ms), now: () => now };
}

test('the first invocation is written at once: a lone request (or a test) sees its record', () => {
  const { batch, written, valid } = harness();
  batch.add(valid, 'Verifications', 'VerificationLatency', 2.5);
  expect(written).toEqual([{ dimensions: { outcome: 'valid' }, counts: { Verifications: 1 }, samples: { VerificationLatency: [2.5] }, timestamp: 10_000 }]);
});

test('within the interval invocations add up; the first one after it writes them all, one record per dimension set', () => {
  const { batch, written, valid, malformed, tick } = harness();
  batch.add(valid, 'Verifications', 'VerificationLatency', 1);
  written.length = 0;
  tick(10);
  for (let i = 0; i < 5; i++) {
    batch.add(malformed, 'Verifications');
    batch.add(valid, 'Verifications', 'VerificationLatency', i);
    tick(100);
  }
  expect(written).toEqual([]);
  tick(500); // 1010 ms after the last write
  batch.add(valid, 'Verifications', 'VerificationLatency', 9);
  expect(written).toEqual([
    { dimensions: { outcome: 'malformed' }, counts: { Verifications: 5 }, samples: {}, timestamp: 10_010 },
    { dimensions: { outcome: 'valid' }, counts: { Verifications: 6 }, samples: { VerificationLatency: [0, 1, 2, 3, 4, 9] }, timestamp: 10_010 },
  ]);
  // Written figures are not written again.
  tick(2000);
  written.length = 0;
  batch.add(malformed, 'Verifications');
  expect(written).toEqual([{ dimensions: { outcome: 'malformed' }, counts: { Verifications: 1 }, samples: {}, timestamp: expect.any(Number) }]);
});

test('figures left when a busy container went quiet are written with their own time, the new invocation with its own', () => {
  const { batch, written, valid, malformed, tick } = harness();
  batch.add(valid, 'Verifications');
  tick(100);
  batch.add(malformed, 'Verifications'); // pending, opened at 10_100
  written.length = 0;
  tick(60_000);
  batch.add(valid, 'Verifications');
  expect(written).toEqual([
    { dimensions: { outcome: 'malformed' }, counts: { Verifications: 1 }, samples: {}, timestamp: 10_100 },
    { dimensions: { outcome: 'valid' }, counts: { Verifications: 1 }, samples: {}, timestamp: 70_100 },
  ]);
});

test('`immediately` writes at once whatever the interval (admin operations)', () => {
  const { batch, written, valid, tick } = harness();
  batch.add(valid, 'AdminOperations', undefined, 0, true);
  tick(1);
  batch.add(valid, 'AdminOperations', undefined, 0, true);
  expect(written.map((w) => [w.counts, w.timestamp])).toEqual([
    [{ AdminOperations: 1 }, 10_000],
    [{ AdminOperations: 1 }, 10_001],
  ]);
});

test('the same dimensions give the same series', () => {
  const { batch, valid } = harness();
  expect(batch.seriesFor('valid', { outcome: 'other' })).toBe(valid);
});
