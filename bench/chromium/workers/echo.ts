// Calibration: the messaging floors. Raw `postMessage` echo on the worker itself, and a Comlink
// echo on a MessagePort the page hands over (Lightcone's client reaches its worker through
// Comlink on a port).
import * as Comlink from 'comlink';

const scope = self as unknown as { onmessage: ((e: MessageEvent) => void) | null; postMessage(m: unknown): void };
scope.onmessage = (e: MessageEvent) => {
  const data = e.data as { comlink?: MessagePort } | unknown;
  if (data && typeof data === 'object' && 'comlink' in data && data.comlink instanceof MessagePort) {
    Comlink.expose({ echo: (x: unknown) => x }, data.comlink);
    return;
  }
  scope.postMessage(e.data);
};
