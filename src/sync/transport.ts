// What sync takes from its platform: a WebSocket and fetch (the browser's, undici's, `ws`'s). Kept
// apart from wire-client.ts so that the options' types (RemoteOptions) reach no protocol internals.

/** What sync needs of a WebSocket (the browser's, undici's and `ws`'s all fit). */
export interface SocketLike {
  binaryType: string;
  /** The subprotocol the server chose (empty until open). */
  readonly protocol: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type SocketFactory = (url: string, protocols: string[]) => SocketLike;
export type FetchLike = (url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }) => Promise<{ status: number; text(): Promise<string> }>;
