import { BUNDLING, entryPath, esbuildOptions } from '../../lib/build/bundles';
import { FUNCTIONS, type FunctionId } from '../../lib/shared/functions';

/**
 * The authorizers reach DynamoDB and Secrets Manager through functions/aws-http
 * instead of the AWS SDK (their cold start is every caller's); the other
 * functions keep the SDK. Checked on esbuild's own account of each bundle.
 */
async function bundleInputs(key: FunctionId): Promise<string[]> {
  const { build } = await import('esbuild');
  const result = await build({ ...esbuildOptions(), entryPoints: [entryPath(FUNCTIONS[key])], outdir: '/keygate-metafile-only', write: false, metafile: true });
  const output = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith(BUNDLING.outExtension))![1];
  return Object.entries(output.inputs)
    .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
    .map(([input]) => input);
}

test.each(['apiKeyAuthorizer', 'sessionAuthorizer'] as const)('the %s bundle carries no AWS SDK client, only the signer', async (key) => {
  const inputs = await bundleInputs(key);
  expect(inputs.filter((input) => input.includes('node_modules/@aws-sdk/'))).toEqual([]);
  expect(inputs).toContainEqual(expect.stringContaining('node_modules/@smithy/signature-v4/'));
  expect(inputs).toContainEqual(expect.stringMatching(/^functions\/aws-http\/dynamodb\.ts$/));
});

test('the admin functions keep the SDK', async () => {
  expect(await bundleInputs('createKey')).toContainEqual(expect.stringContaining('node_modules/@aws-sdk/client-dynamodb/'));
});
