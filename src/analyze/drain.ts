// Template mining with Drain (He et al., ICWS 2017): a fixed-depth parse tree keyed by token count
// and the first tokens, then the most similar cluster in the leaf, above a similarity threshold.
// States from different files merge, so files can be mined apart (in parallel) and combined.
import { createHash } from 'node:crypto';
import type { Level } from './levels.js';

export const WILDCARD = '<*>';

export interface DrainOptions {
  /** Tree depth including the root and length layers (Drain's `depth`, default 4). */
  depth: number;
  /** Share of a template's constant tokens a message must equal to join it (default 0.5). */
  similarity: number;
  /** Children per tree node before tokens fold into `<*>` (default 100). */
  maxChildren: number;
  /** Most clusters kept; further messages are counted in an overflow cluster (default 5,000). */
  maxClusters: number;
}

export const DRAIN_DEFAULTS: DrainOptions = {
  depth: 4,
  similarity: 0.5,
  maxChildren: 100,
  maxClusters: 5000,
};

/** Paths with two or more segments. */
const PATH_MASK = /(?<![\w/])(?:\/[\w.@%+~-]+){2,}\/?/g;

// Variables masked before mining, most specific first. Each becomes `<*>` within its token.
const MASKS: RegExp[] = [
  /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, // UUID
  /\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b/g, // IPv4[:port]
  /\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b/gi, // IPv6 (full form)
  /\b0x[0-9a-f]+\b/gi, // hex literal
  /\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/gi, // hex id (hashes, request ids)
  PATH_MASK,
  /\b\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds|min|mins|minutes|h|hours)\b/g, // durations
  /(?<![A-Za-z])[-+]?\d+(?:[.,:]\d+)*(?![A-Za-z])/g, // numbers (not inside words)
];

/** The message with variables replaced by `<*>`, split into tokens. */
export function maskTokens(message: string): string[] {
  let text = message;
  // Every mask but the path one needs a digit: messages without any skip them.
  if (/\d/.test(text)) for (const mask of MASKS) text = text.replace(mask, WILDCARD);
  else text = text.replace(PATH_MASK, WILDCARD);
  const tokens = text.trim().split(/\s+/);
  return tokens.length === 1 && tokens[0] === '' ? [] : tokens;
}

export interface Cluster {
  /** Index in the state's cluster list (stable for its life). */
  index: number;
  tokens: string[];
  count: number;
  levels: Partial<Record<Level, number>>;
  firstSeen: string | null;
  lastSeen: string | null;
}

interface TreeNode {
  children: Map<string, TreeNode>;
  clusters: number[];
}

function node(): TreeNode {
  return { children: new Map(), clusters: [] };
}

const hasDigit = (token: string) => /\d/.test(token);

export class Drain {
  readonly clusters: Cluster[] = [];
  private readonly root = node();
  /** Messages that arrived once `maxClusters` was reached. */
  overflow = 0;

  constructor(readonly options: DrainOptions = DRAIN_DEFAULTS) {}

  /** Adds one message; returns its cluster's index (-1 when the cap was reached). */
  add(message: string, level: Level | null = null, time: string | null = null): number {
    return this.addTokens(maskTokens(message), 1, level ? { [level]: 1 } : {}, time, time);
  }

  addTokens(
    tokens: string[],
    count: number,
    levels: Partial<Record<Level, number>>,
    firstSeen: string | null,
    lastSeen: string | null,
  ): number {
    let cluster = this.search(tokens);
    if (cluster) {
      if (!sameTokens(cluster.tokens, tokens)) cluster.tokens = generalise(cluster.tokens, tokens);
    } else {
      if (this.clusters.length >= this.options.maxClusters) {
        this.overflow += count;
        return -1;
      }
      cluster = {
        index: this.clusters.length,
        tokens: [...tokens],
        count: 0,
        levels: {},
        firstSeen: null,
        lastSeen: null,
      };
      this.clusters.push(cluster);
      this.insert(cluster);
    }
    cluster.count += count;
    for (const [level, n] of Object.entries(levels) as [Level, number][]) {
      cluster.levels[level] = (cluster.levels[level] ?? 0) + n;
    }
    if (firstSeen && (!cluster.firstSeen || firstSeen < cluster.firstSeen)) cluster.firstSeen = firstSeen;
    if (lastSeen && (!cluster.lastSeen || lastSeen > cluster.lastSeen)) cluster.lastSeen = lastSeen;
    return cluster.index;
  }

  /**
   * Adds every cluster of `other` into this state, as Drain would have had it seen their
   * messages; returns, for each of `other`'s cluster indexes, the index it now has here.
   */
  merge(other: Drain): number[] {
    return other.clusters.map((c) => this.addTokens(c.tokens, c.count, c.levels, c.firstSeen, c.lastSeen));
  }

  private prefixKeys(tokens: string[]): string[] {
    const keys = [String(tokens.length)];
    const layers = Math.min(this.options.depth - 2, tokens.length);
    for (let i = 0; i < layers; i++) keys.push(tokens[i] as string);
    return keys;
  }

  private search(tokens: string[]): Cluster | null {
    const [length, ...prefix] = this.prefixKeys(tokens);
    let at: TreeNode | undefined = this.root.children.get(length as string);
    if (!at) return null;
    for (const token of prefix) {
      const next: TreeNode | undefined = at.children.get(token) ?? at.children.get(WILDCARD);
      if (!next) return null;
      at = next;
    }
    let best: Cluster | null = null;
    let bestSim = -1;
    let bestParams = -1;
    for (const index of at.clusters) {
      const cluster = this.clusters[index] as Cluster;
      const [sim, params] = similarity(cluster.tokens, tokens);
      if (sim > bestSim || (sim === bestSim && params > bestParams)) {
        best = cluster;
        bestSim = sim;
        bestParams = params;
      }
    }
    return best && bestSim >= this.options.similarity ? best : null;
  }

  private insert(cluster: Cluster): void {
    const [length, ...prefix] = this.prefixKeys(cluster.tokens);
    let at: TreeNode | undefined = this.root.children.get(length as string);
    if (!at) {
      at = node();
      this.root.children.set(length as string, at);
    }
    const max = this.options.maxChildren;
    for (const token of prefix) {
      const children: Map<string, TreeNode> = at.children;
      let next: TreeNode | undefined = children.get(token);
      if (!next) {
        const key =
          hasDigit(token) || token === WILDCARD
            ? WILDCARD
            : children.has(WILDCARD)
              ? children.size < max
                ? token
                : WILDCARD
              : children.size + 1 < max
                ? token
                : WILDCARD;
        next = children.get(key);
        if (!next) {
          next = node();
          children.set(key, next);
        }
      }
      at = next;
    }
    at.clusters.push(cluster.index);
  }
}

/** Share of the template's tokens equal to the message's, and how many wildcards it has. */
function similarity(template: string[], tokens: string[]): [number, number] {
  let same = 0;
  let params = 0;
  for (let i = 0; i < template.length; i++) {
    const t = template[i] as string;
    if (t === WILDCARD) params += 1;
    else if (t === tokens[i]) same += 1;
  }
  return [template.length === 0 ? 1 : same / template.length, params];
}

function sameTokens(a: string[], b: string[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== WILDCARD && a[i] !== b[i]) return false;
  return true;
}

function generalise(template: string[], tokens: string[]): string[] {
  return template.map((t, i) => (t === tokens[i] ? t : WILDCARD));
}

export function templateText(tokens: string[]): string {
  return tokens.join(' ');
}

/** A template's id: the same template text gets the same id in every run and on every machine. */
export function templateId(template: string): string {
  return `T${createHash('sha1').update(template).digest('hex').slice(0, 8)}`;
}
