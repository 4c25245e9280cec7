import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { ENV } from '../../lib/shared/environment';
import { ConfigurationError, PepperUnavailable } from '../../functions/domain/errors';
import { cachedPepper, createHasher, pepperFromEnvironment } from '../../functions/domain/hashing';
import { readSecretsManagerSecret } from '../../functions/lambda/services';

const PEPPER_A = 'a'.repeat(40);
const PEPPER_B = 'b'.repeat(40);
const KEY = 'kg_0123456789abcdefghijABCDEFGHIJ0123456789abcdefg';

describe('key hashing', () => {
  test('is deterministic per pepper and base64url SHA-256 sized', async () => {
    const hash = createHasher(async () => PEPPER_A);
    const first = await hash(KEY);
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await hash(KEY)).toBe(first);
  });

  test('a different pepper gives a different hash: a table writer without the pepper cannot mint keys', async () => {
    expect(await createHasher(async () => PEPPER_A)(KEY)).not.toBe(await createHasher(async () => PEPPER_B)(KEY));
  });

  test('different keys give different hashes', async () => {
    const hash = createHasher(async () => PEPPER_A);
    expect(await hash(KEY)).not.toBe(await hash(`${KEY.slice(0, -1)}h`));
  });
});

describe('pepper loading', () => {
  test('reads the source once per container', async () => {
    const source = jest.fn(async () => PEPPER_A);
    const pepper = cachedPepper(source);
    await Promise.all([pepper(), pepper(), pepper()]);
    await pepper();
    expect(source).toHaveBeenCalledTimes(1);
  });

  test('a failed read is not cached: the next call tries again', async () => {
    const source = jest.fn<Promise<string>, []>().mockRejectedValueOnce(new Error('throttled')).mockResolvedValue(PEPPER_A);
    const pepper = cachedPepper(source);
    await expect(pepper()).rejects.toBeInstanceOf(PepperUnavailable);
    await expect(pepper()).resolves.toBe(PEPPER_A);
    expect(source).toHaveBeenCalledTimes(2);
  });

  test('a pepper shorter than 32 characters is refused', async () => {
    await expect(cachedPepper(async () => 'short')()).rejects.toThrow('pepper is shorter than 32 characters');
  });

  test('with neither a secret id nor a local pepper, hashing fails closed', async () => {
    const hash = createHasher(pepperFromEnvironment({}, async () => PEPPER_A));
    await expect(hash(KEY)).rejects.toBeInstanceOf(ConfigurationError);
  });

  test('the local pepper is used when no secret id is set', async () => {
    const readSecret = jest.fn(async () => PEPPER_B);
    const pepper = pepperFromEnvironment({ [ENV.localPepper]: PEPPER_A }, readSecret);
    await expect(pepper()).resolves.toBe(PEPPER_A);
    expect(readSecret).not.toHaveBeenCalled();
  });

  // Secrets Manager has no local server: this is the one place its client is mocked.
  describe('from Secrets Manager (mocked client)', () => {
    const secretsManager = mockClient(SecretsManagerClient);
    afterEach(() => secretsManager.reset());

    test('reads the secret named by PEPPER_SECRET_ID, in preference to a local pepper', async () => {
      secretsManager.on(GetSecretValueCommand, { SecretId: 'arn:pepper' }).resolves({ SecretString: PEPPER_B });
      const pepper = pepperFromEnvironment({ [ENV.pepperSecretId]: 'arn:pepper', [ENV.localPepper]: PEPPER_A }, readSecretsManagerSecret);
      await expect(pepper()).resolves.toBe(PEPPER_B);
      await pepper();
      expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    });

    test('an unreadable secret fails closed, then recovers once it can be read', async () => {
      secretsManager.on(GetSecretValueCommand).rejectsOnce(Object.assign(new Error('denied'), { name: 'AccessDeniedException' })).resolves({ SecretString: PEPPER_B });
      const pepper = pepperFromEnvironment({ [ENV.pepperSecretId]: 'arn:pepper' }, readSecretsManagerSecret);
      await expect(pepper()).rejects.toThrow('could not read the pepper');
      await expect(pepper()).resolves.toBe(PEPPER_B);
    });

    test('a secret without a string value fails closed', async () => {
      secretsManager.on(GetSecretValueCommand).resolves({});
      const pepper = pepperFromEnvironment({ [ENV.pepperSecretId]: 'arn:pepper' }, readSecretsManagerSecret);
      await expect(pepper()).rejects.toThrow('secret arn:pepper has no string value');
    });
  });
});
