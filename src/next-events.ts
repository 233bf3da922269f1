// One helper the engine and the IndexedDB durability share: a pause that lets waiting events
// (messages carrying calls, timers) run before long work goes on.

/** Resolves after the events waiting now have had their turn (a macrotask, never clamped like a nested timer). */
export function nextEvents(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
