import { createHash, timingSafeEqual } from 'node:crypto';
import { FlywheelError } from '../../core/errors.ts';

/**
 * Bearer tokens and what each may do, read from one environment variable:
 *
 *     FLYWHEEL_TOKENS="tokA=write:clicks,write:decisions;tokB=write:*;tokC=read"
 *
 * Entries are separated by `;`, a token from its scopes by `=`, scopes by `,`. A scope is
 * `write:<stream>`, `write:*` (every stream), `read:<stream>`, `read:*`, or `read` (the same as
 * `read:*`). Tokens may use letters, digits and `-._~+/` (hex or base64url), no `=`; spaces around
 * the separators are ignored.
 */
export const TOKENS_ENV = 'FLYWHEEL_TOKENS';

export type Access = 'read' | 'write';

export interface TokenScope {
  readonly access: Access;
  /** A stream name, or `*` for all. */
  readonly stream: string;
}

/** Thrown when FLYWHEEL_TOKENS is missing or cannot be parsed; names the entry. */
export class TokenConfigError extends FlywheelError {}

const TOKEN = /^[A-Za-z0-9\-._~+/]+$/;
const SCOPE = /^(read|write)(?::(\*|[A-Za-z_][A-Za-z0-9_]*))?$/;

interface KnownToken {
  readonly digest: Buffer;
  readonly scopes: readonly TokenScope[];
}

/** The configured tokens. Lookups compare SHA-256 digests in constant time against every token. */
export class TokenTable {
  private constructor(private readonly tokens: readonly KnownToken[]) {}

  /**
   * @example TokenTable.parse('tokA=write:clicks;tokC=read').scopesOf('tokA') // [{ access: 'write', stream: 'clicks' }]
   */
  static parse(spec: string, source = TOKENS_ENV): TokenTable {
    const tokens: KnownToken[] = [];
    const seen = new Set<string>();
    for (const [n, rawEntry] of spec.split(';').entries()) {
      const entry = rawEntry.trim();
      if (entry === '') continue;
      const eq = entry.indexOf('=');
      const where = `${source}, entry ${n + 1}`;
      if (eq === -1) throw new TokenConfigError(`${where}: expected <token>=<scope>[,<scope>...], e.g. tokA=write:clicks`);
      const token = entry.slice(0, eq).trim();
      if (!TOKEN.test(token)) throw new TokenConfigError(`${where}: a token may hold only letters, digits and -._~+/`);
      if (seen.has(token)) throw new TokenConfigError(`${where}: the same token is listed twice`);
      seen.add(token);
      const scopes = entry
        .slice(eq + 1)
        .split(',')
        .map((s) => s.trim())
        .map((scope) => {
          const m = SCOPE.exec(scope);
          if (!m) throw new TokenConfigError(`${where}: bad scope ${JSON.stringify(scope)}; use write:<stream>, write:*, read:<stream>, read:* or read`);
          return { access: m[1] as Access, stream: m[2] ?? '*' };
        });
      tokens.push({ digest: digest(token), scopes });
    }
    if (tokens.length === 0) throw new TokenConfigError(`${source} lists no tokens`);
    return new TokenTable(tokens);
  }

  /** Reads FLYWHEEL_TOKENS; a missing or empty variable is an error (the API has no anonymous access). */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): TokenTable {
    const spec = env[TOKENS_ENV];
    if (!spec || spec.trim() === '') {
      throw new TokenConfigError(`${TOKENS_ENV} is not set; give the log API its tokens, e.g. ${TOKENS_ENV}="$(openssl rand -hex 24)=write:*"`);
    }
    return TokenTable.parse(spec);
  }

  /** The scopes of `token`, or undefined for an unknown one. Takes the same time whichever token matches. */
  scopesOf(token: string): readonly TokenScope[] | undefined {
    const presented = digest(token);
    let found: readonly TokenScope[] | undefined;
    for (const known of this.tokens) {
      if (timingSafeEqual(known.digest, presented)) found = known.scopes;
    }
    return found;
  }
}

/** `Authorization: Bearer <token>`, the scheme in any case. */
export const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

/**
 * The scopes of the bearer token an `Authorization` header carries; undefined without a header, for a
 * malformed one, and for an unknown token. For routes that answer everyone but tell more to a caller
 * holding a valid token (`/healthz`, `/readyz`).
 */
export function scopesOfHeader(tokens: TokenTable, header: string | undefined): readonly TokenScope[] | undefined {
  const match = header === undefined ? null : BEARER.exec(header);
  return match ? tokens.scopesOf(match[1]!) : undefined;
}

export function allows(scopes: readonly TokenScope[], access: Access, stream: string): boolean {
  return scopes.some((s) => s.access === access && (s.stream === '*' || s.stream === stream));
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
