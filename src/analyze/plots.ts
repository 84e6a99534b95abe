import type { Analysis } from './combine.js';
export async function writePlots(_a: Analysis, _dir: string): Promise<string[]> {
  return [];
}
