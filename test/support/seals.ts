import { ENV } from '../../lib/shared/environment';
import { SEAL_ATTRIBUTE } from '../../lib/shared/seals';
import { createSealer, sealedKey, sealedSession } from '../../functions/domain/seal';

/** The sealer of the functions under test: the same local pepper test-env.ts set for this file. */
export const testSealer = createSealer(async () => process.env[ENV.localPepper]!);

/** `item` (a hash item's attributes, without pk/sk) with the seal keygate would write for it. */
export async function sealedKeyItem<T extends object>(keyHash: string, item: T): Promise<T & { [SEAL_ATTRIBUTE]: string }> {
  return { ...item, [SEAL_ATTRIBUTE]: await testSealer.seal(sealedKey(keyHash, item)) };
}

export async function sealedSessionItem<T extends object>(tokenHash: string, item: T): Promise<T & { [SEAL_ATTRIBUTE]: string }> {
  return { ...item, [SEAL_ATTRIBUTE]: await testSealer.seal(sealedSession(tokenHash, item)) };
}
