// Keeps secrets (account keys, SAS tokens, bearer tokens, passwords in URLs) out of every message sluice prints.

/** Secrets this process has read (a key, a SAS), removed verbatim wherever they appear. */
const knownSecrets = new Set<string>();

/** Remembers a secret so `redact` removes it even where no pattern would recognise it. */
export function registerSecret(secret: string | undefined): void {
  // Very short strings would blank out ordinary words; real keys and signatures are long.
  if (secret && secret.length >= 8) knownSecrets.add(secret);
}

const PATTERNS: [RegExp, string][] = [
  // The user:password@ of any URL (https://, postgres://, ftp://), up to the authority's last @ (a
  // password may hold one); the name goes too, it is half the login.
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'<>]*@/gi, '$1<credentials redacted>@'],
  // A whole SAS query string: `?sv=...&sig=...`, in a URL or alone.
  [/\?[^\s"'<>?]*\bsig=[^\s"'<>]*/gi, '?<SAS redacted>'],
  [/\b(AccountKey|SharedAccessSignature)=[^;\s"']*/gi, '$1=<redacted>'],
  [/\bsig=[^&;\s"'<>]*/gi, 'sig=<redacted>'],
  [/\b(SharedKey(?:Lite)?\s+[^:\s]+:)[^\s"',]+/g, '$1<redacted>'],
  // Tokens are long; the length keeps prose like "Bearer token authentication" readable.
  [/\bBearer\s+[A-Za-z0-9._~+/=-]{16,}/g, 'Bearer <redacted>'],
];

/** Returns `text` with every key, SAS and token it contains replaced by a placeholder. */
export function redact(text: string): string {
  let out = text;
  for (const secret of knownSecrets) out = out.split(secret).join('<redacted>');
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}
