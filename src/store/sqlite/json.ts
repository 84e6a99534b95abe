// JSON columns: payloads, checkpoints, metrics and results are stored as text, NULL for null.
import type { Json } from '../types.js';

export function parseJson(text: string | null): Json {
  return text === null ? null : (JSON.parse(text) as Json);
}

export function toJson(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}
