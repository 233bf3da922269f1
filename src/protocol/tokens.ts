// Identity tokens of the wire protocol: JWTs (ES256, as SpacetimeDB issues them) signed with a key
// the database keeps in its own storage, so a token handed back on reconnect, even after a
// restart, proves the same identity. The SDK never looks inside a token; the claims follow
// SpacetimeDB's (`hex_identity`, `sub`, `iss`, `aud`, `iat`) so tools that decode them read ours.
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, importJWK, jwtVerify, type JWK } from 'jose';
import { Identity } from 'spacetimedb';
import { UsageError } from '../errors.ts';

/** Where the signing key lives: the database's durability meta store. */
export interface KeyStorage {
  getMeta(key: string): Promise<Uint8Array | undefined>;
  putMeta(key: string, value: Uint8Array): Promise<void>;
}

/** The meta key of the signing key (a private JWK as JSON). */
export const TOKEN_KEY_META = 'protocol-token-key';
const ISSUER = 'lightcone';
const AUDIENCE = 'spacetimedb';
const ALG = 'ES256';

type Key = Awaited<ReturnType<typeof importJWK>>;

/** Mints and verifies the tokens of one database. */
export class TokenIssuer {
  readonly #sign: Key;
  readonly #verify: Key;

  private constructor(sign: Key, verify: Key) {
    this.#sign = sign;
    this.#verify = verify;
  }

  /** Loads the database's signing key, creating and storing one on first use. */
  static async open(storage: KeyStorage): Promise<TokenIssuer> {
    let jwk: JWK;
    const stored = await storage.getMeta(TOKEN_KEY_META);
    if (stored) {
      jwk = JSON.parse(new TextDecoder().decode(stored)) as JWK;
    } else {
      const pair = await generateKeyPair(ALG, { extractable: true });
      jwk = await exportJWK(pair.privateKey);
      await storage.putMeta(TOKEN_KEY_META, new TextEncoder().encode(JSON.stringify(jwk)));
    }
    const { d: _private, ...publicJwk } = jwk;
    return new TokenIssuer(await importJWK(jwk, ALG), await importJWK(publicJwk, ALG));
  }

  /** A token for `identity`: long-lived, or valid for `expiresInSeconds` (a WebSocket token). */
  mint(identity: Identity, expiresInSeconds?: number): Promise<string> {
    const hex = identity.toHexString();
    const jwt = new SignJWT({ hex_identity: hex }).setProtectedHeader({ alg: ALG, typ: 'JWT' }).setSubject(hex).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt();
    if (expiresInSeconds !== undefined) jwt.setExpirationTime(`${expiresInSeconds}s`);
    return jwt.sign(this.#sign);
  }

  /** The public key that verifies this issuer's tokens, as PEM (SPKI). */
  publicKeyPem(): Promise<string> {
    return exportSPKI(this.#verify as CryptoKey);
  }

  /**
   * The identity a token proves. Throws UsageError INVALID_TOKEN for a token this database did not
   * issue (another database's, one from before its data was deleted, or a forged or damaged one).
   */
  async verify(token: string): Promise<Identity> {
    let hex: unknown;
    try {
      const { payload } = await jwtVerify(token, this.#verify, { algorithms: [ALG], issuer: ISSUER, audience: AUDIENCE });
      hex = payload.hex_identity;
    } catch (e) {
      throw invalid(e instanceof Error ? e.message : String(e));
    }
    if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/.test(hex)) throw invalid('it carries no hex_identity');
    return Identity.fromString(hex);
  }
}

function invalid(why: string): UsageError {
  return new UsageError('INVALID_TOKEN', `the token was not issued by this database (${why}): connect without a token to get a new identity, or with the token this database gave you`);
}
