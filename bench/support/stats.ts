// Small numeric helpers for repeated runs and for printing them.

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** "12.3 s (11.9–13.0)" when there were several runs. */
export function secondsRange(runs: number[]): string {
  if (runs.length === 0) return 'n/a';
  const m = seconds(median(runs));
  if (runs.length === 1) return m;
  const lo = Math.min(...runs) / 1000;
  const hi = Math.max(...runs) / 1000;
  return `${m} (${lo.toFixed(1)}–${hi.toFixed(1)})`;
}

export function mib(bytes: number | null): string {
  return bytes === null ? 'n/a' : `${Math.round(bytes / 1048576)} MiB`;
}

export function ratio(x: number, base: number): string {
  return base > 0 ? `${(x / base).toFixed(2)}×` : 'n/a';
}

export function thousands(n: number): string {
  return n.toLocaleString('en-US');
}
