/** Stops DynamoDB Local; jest runs this whether or not the tests passed. */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__keygateDynamoDbLocal?.stop();
}
