// Identities of `lightcone start`: one signing key per server (kept in its data directory), so a
// token is good for every database the server holds, as SpacetimeDB's are, and survives restarts.
// Credentials come from `Authorization: Bearer <token>` or `?token=<token>` (the header wins); a
// request with neither gets a new identity and token (SpacetimeDB's anonymous identities).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { Identity } from 'spacetimedb';
import { randomIdentity } from '../engine/engine.ts';
import { TokenIssuer, type KeyStorage } from '../protocol/tokens.ts';

/** Who made a request, and whether the server just made them up. */
export interface Caller {
  identity: Identity;
  token: string;
  /** True when the request carried no credentials and this identity was minted for it. */
  minted: boolean;
}

/** Why a request's credentials were refused (answered with 401). */
export class AuthError extends Error {
  override readonly name = 'AuthError';
}

/** A KeyStorage over files in `dir` (written atomically). */
export function fileKeyStorage(dir: string): KeyStorage {
  return {
    getMeta: async (key) => {
      const file = join(dir, `${key}.json`);
      return existsSync(file) ? new Uint8Array(readFileSync(file)) : undefined;
    },
    putMeta: async (key, value) => {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${key}.json`);
      writeFileSync(`${file}.tmp`, value, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    },
  };
}

/** The server's token authority. */
export class ServerAuth {
  readonly #issuer: TokenIssuer;

  private constructor(issuer: TokenIssuer) {
    this.#issuer = issuer;
  }

  static async open(keys: KeyStorage): Promise<ServerAuth> {
    return new ServerAuth(await TokenIssuer.open(keys));
  }

  /** A new identity and its long-lived token. */
  async mint(): Promise<Caller> {
    const identity = randomIdentity();
    return { identity, token: await this.#issuer.mint(identity), minted: true };
  }

  /** A short-lived token (60 s, as SpacetimeDB's) for the same identity: what a WebSocket connects with. */
  websocketToken(identity: Identity): Promise<string> {
    return this.#issuer.mint(identity, 60);
  }

  publicKeyPem(): Promise<string> {
    return this.#issuer.publicKeyPem();
  }

  /** The token a request carries, if any. */
  static tokenOf(req: IncomingMessage, url: URL): string | undefined {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m) throw new AuthError('the Authorization header must be `Bearer <token>`');
      return m[1];
    }
    return url.searchParams.get('token') ?? undefined;
  }

  /** The caller of a request: its token's identity, or (`mintIfNone`) a new one. Throws AuthError for a bad token. */
  async caller(req: IncomingMessage, url: URL, mintIfNone: boolean): Promise<Caller | undefined> {
    const token = ServerAuth.tokenOf(req, url);
    if (token === undefined || token === '') return mintIfNone ? this.mint() : undefined;
    try {
      return { identity: await this.#issuer.verify(token), token, minted: false };
    } catch (e) {
      throw new AuthError((e as Error).message.replace('this database', 'this server').replace('this database gave you', 'this server gave you'));
    }
  }
}
