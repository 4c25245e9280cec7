import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { ENV } from '../../lib/shared/environment';
import { ConfigurationError, PepperUnavailable } from '../../functions/domain/errors';
import { cachedPepper, createHasher, PEPPER_RETRY_DELAY_MS, pepperFromEnvironment } from '../../functions/domain/hashing';
import { initialized } from '../../functions/lambda/init';
import { logger, readSecretsManagerSecret, servicesFromEnvironment } from '../../functions/lambda/services';

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

  test('a failed read is remembered for a few seconds (no read per request), then read again', async () => {
    let now = 1_000_000;
    const source = jest.fn<Promise<string>, []>().mockRejectedValueOnce(new Error('throttled')).mockResolvedValue(PEPPER_A);
    const pepper = cachedPepper(source, { now: () => now });
    await expect(pepper()).rejects.toMatchObject({ name: 'PepperUnavailable', message: 'could not read the pepper' });
    // Inside the delay every call fails at once, with the cause, without asking the source.
    now += PEPPER_RETRY_DELAY_MS - 1;
    const cached = await pepper().catch((error: unknown) => error);
    expect(cached).toBeInstanceOf(PepperUnavailable);
    expect(cached).toMatchObject({ message: `could not read the pepper (${PEPPER_RETRY_DELAY_MS - 1} ms ago; read again ${PEPPER_RETRY_DELAY_MS} ms after a failure)`, cause: new Error('throttled') });
    expect(source).toHaveBeenCalledTimes(1);
    // Then the next call reads again, and the pepper is kept from then on.
    now += 1;
    await expect(pepper()).resolves.toBe(PEPPER_A);
    await expect(pepper()).resolves.toBe(PEPPER_A);
    expect(source).toHaveBeenCalledTimes(2);
  });

  test('the negative cache is a few seconds, not minutes', () => {
    expect(PEPPER_RETRY_DELAY_MS).toBeGreaterThanOrEqual(1_000);
    expect(PEPPER_RETRY_DELAY_MS).toBeLessThanOrEqual(10_000);
  });

  test('concurrent callers during a failing read share it and its failure', async () => {
    let fail: (error: Error) => void = () => undefined;
    const source = jest.fn(() => new Promise<string>((_, reject) => (fail = reject)));
    const pepper = cachedPepper(source);
    const calls = [pepper(), pepper(), pepper()];
    fail(new Error('timeout'));
    for (const call of calls) await expect(call).rejects.toBeInstanceOf(PepperUnavailable);
    expect(source).toHaveBeenCalledTimes(1);
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

    test('an unreadable secret fails closed, then recovers once it can be read, after the retry delay', async () => {
      let now = 0;
      secretsManager.on(GetSecretValueCommand).rejectsOnce(Object.assign(new Error('denied'), { name: 'AccessDeniedException' })).resolves({ SecretString: PEPPER_B });
      const pepper = pepperFromEnvironment({ [ENV.pepperSecretId]: 'arn:pepper' }, readSecretsManagerSecret, { now: () => now });
      await expect(pepper()).rejects.toThrow('could not read the pepper');
      await expect(pepper()).rejects.toThrow('could not read the pepper');
      expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
      now += PEPPER_RETRY_DELAY_MS;
      await expect(pepper()).resolves.toBe(PEPPER_B);
      expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    });

    test('a secret without a string value fails closed', async () => {
      secretsManager.on(GetSecretValueCommand).resolves({});
      const pepper = pepperFromEnvironment({ [ENV.pepperSecretId]: 'arn:pepper' }, readSecretsManagerSecret);
      await expect(pepper()).rejects.toThrow('secret arn:pepper has no string value');
    });
  });

  describe('during init', () => {
    test('a function given a pepper starts reading it when its services are built, before any request', async () => {
      const readSecret = jest.fn(async () => PEPPER_B);
      const services = servicesFromEnvironment({ [ENV.pepperSecretId]: 'arn:pepper' }, readSecret);
      expect(readSecret).toHaveBeenCalledTimes(1);
      expect(readSecret).toHaveBeenCalledWith('arn:pepper');
      await initialized();
      expect(await services.hash(KEY)).toBe(await createHasher(async () => PEPPER_B)(KEY));
      expect(readSecret).toHaveBeenCalledTimes(1);
    });

    test('a function given no pepper reads none, and fails only when it hashes', async () => {
      const readSecret = jest.fn(async () => PEPPER_B);
      const services = servicesFromEnvironment({}, readSecret);
      await initialized();
      expect(readSecret).not.toHaveBeenCalled();
      await expect(services.hash(KEY)).rejects.toBeInstanceOf(ConfigurationError);
    });

    test('init waits for the read at most its limit, then the read goes on and requests wait for it', async () => {
      let answer: (pepper: string) => void = () => undefined;
      const services = servicesFromEnvironment({ [ENV.pepperSecretId]: 'arn:slow' }, () => new Promise((resolve) => (answer = resolve)));
      const started = Date.now();
      await initialized(50);
      expect(Date.now() - started).toBeGreaterThanOrEqual(45);
      const hashed = services.hash(KEY);
      answer(PEPPER_A);
      expect(await hashed).toBe(await createHasher(async () => PEPPER_A)(KEY));
    });

    test('a read that fails during init is logged once, and does not fail init', async () => {
      const readSecret = jest.fn(async () => {
        throw new Error('injected: Secrets Manager down');
      });
      const logged = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
      try {
        const services = servicesFromEnvironment({ [ENV.pepperSecretId]: 'arn:down' }, readSecret);
        await expect(initialized()).resolves.toBeUndefined();
        expect(logged).toHaveBeenCalledTimes(1);
        expect(logged.mock.calls[0]![0]).toMatch(/pepper not read during init/);
        // Within the retry delay the first request fails at once, without another read.
        await expect(services.hash(KEY)).rejects.toThrow(/could not read the pepper \(\d+ ms ago/);
        expect(readSecret).toHaveBeenCalledTimes(1);
      } finally {
        logged.mockRestore();
      }
    });
  });
});
