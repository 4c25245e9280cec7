import { answersDynamoDb, expectLoopbackOnly } from '../support/network';

/**
 * DynamoDB Local accepts any signature: whoever reaches its port reads and
 * changes every table. It must be reachable from this machine only. Checked
 * from outside, as a neighbour on the network would try: a TCP connection to
 * each of this machine's other addresses is refused, and the kernel lists
 * only a loopback address as listening on the port (which fails on a
 * wildcard bind even on a machine with no other address). This is the test
 * run's own DynamoDB Local (jest global setup); test/e2e/local-stack.test.ts
 * checks npm start's, with its environment, flags and files.
 */
test('the test run’s DynamoDB Local (jest global setup) is reachable on 127.0.0.1 only', async () => {
  await expectLoopbackOnly(process.env.KEYGATE_TEST_DYNAMODB_ENDPOINT!, answersDynamoDb);
});
