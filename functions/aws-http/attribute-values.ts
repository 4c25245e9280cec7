/**
 * DynamoDB's wire format for values, and the plain values keygate's items
 * hold: strings, numbers, booleans, and (for what later items may carry)
 * null, lists and maps. Binary values and sets are not used by any item the
 * authorizers read; they are left out of a plain item rather than guessed at.
 */
export interface AttributeValue {
  S?: string;
  N?: string;
  BOOL?: boolean;
  NULL?: boolean;
  L?: AttributeValue[];
  M?: Record<string, AttributeValue>;
  B?: string;
  SS?: string[];
  NS?: string[];
  BS?: string[];
}

export type PlainValue = string | number | boolean | null | PlainValue[] | { [name: string]: PlainValue };
export type Item = Record<string, AttributeValue>;
export type PlainItem = Record<string, PlainValue>;

export function toAttributeValue(value: PlainValue): AttributeValue {
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`DynamoDB cannot store the number ${value}`);
    return { N: String(value) };
  }
  if (typeof value === 'boolean') return { BOOL: value };
  if (value === null) return { NULL: true };
  if (Array.isArray(value)) return { L: value.map(toAttributeValue) };
  return { M: marshallItem(value) };
}

/** The plain value, or undefined for a type plain items do not carry (binary, sets). */
export function fromAttributeValue(value: AttributeValue): PlainValue | undefined {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return Number(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.L !== undefined) return value.L.map(fromAttributeValue).filter((element): element is PlainValue => element !== undefined);
  if (value.M !== undefined) return unmarshallItem(value.M);
  return undefined;
}

export function marshallItem(plain: Readonly<Record<string, PlainValue>>): Item {
  const item: Item = {};
  for (const name in plain) item[name] = toAttributeValue(plain[name]!);
  return item;
}

export function unmarshallItem(item: Item): PlainItem {
  const plain: PlainItem = {};
  for (const name in item) {
    const value = fromAttributeValue(item[name]!);
    if (value !== undefined) plain[name] = value;
  }
  return plain;
}
