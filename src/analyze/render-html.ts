import type { Analysis } from './combine.js';
export async function renderHtml(a: Analysis): Promise<string> {
  return `<pre>${JSON.stringify(a)}</pre>`;
}
