// Calibration peer: echoes raw postMessage traffic, and exposes a Comlink echo on a port.
import * as Comlink from 'comlink';

self.onmessage = (event: MessageEvent) => {
  const data: unknown = event.data;
  if (data && typeof data === 'object' && 'comlink' in data) {
    Comlink.expose({ echo: (v: unknown) => v }, (data as { comlink: MessagePort }).comlink);
    return;
  }
  (self as unknown as Worker).postMessage(data);
};
