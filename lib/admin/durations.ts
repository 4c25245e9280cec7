/**
 * Time values the CLI accepts on its flags. Kept apart from the CLI so the
 * console and other callers parse them the same way.
 */
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** `90s`, `15m`, `24h`, `90d`, `2w` → milliseconds; `0` alone is zero. Undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const match = /^(\d{1,6})([smhdw])$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

export const EXPIRES_AT_FORMATS = 'a date (2030-01-01, meaning midnight UTC), a date-time with an offset (2030-01-01T12:00:00Z) or a duration from now (90d, 12h, 30m)';

/**
 * An expiry as typed on the command line, as the ISO 8601 date-time the
 * admin functions take: a date is midnight UTC, a duration counts from
 * `now`, a date-time passes through (the function validates it). Undefined
 * when the text is none of those.
 */
export function parseExpiresAt(text: string, now: Date): string | undefined {
  const duration = parseDuration(text);
  if (duration !== undefined) return new Date(now.getTime() + duration).toISOString();
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const midnight = new Date(`${text}T00:00:00Z`);
    // Date rolls 2030-02-30 over to March; refuse it rather than guess.
    return !Number.isNaN(midnight.getTime()) && midnight.toISOString().startsWith(text) ? midnight.toISOString() : undefined;
  }
  return /^\d{4}-\d{2}-\d{2}T/.test(text) ? text : undefined;
}
