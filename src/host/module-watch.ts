// Lets a watchdog see when module code runs. The Node engine thread enforces a time budget on
// module code (a reducer `for(;;){}` must not hang its database forever), so it needs to know when
// the module was entered and left; the host reports that here. Nothing is reported (and hooks are
// not wrapped) unless a watcher is installed, so the browser and in-process engines pay nothing.

/** What kind of module code is running. */
export type ModuleRunKind = 'load' | 'reducer' | 'view' | 'procedure' | 'http';

/** Told when module code starts and ends. Calls nest (a view may run inside a procedure). */
export interface ModuleRunWatcher {
  /** Module code starts: `id` is the reducer, view or procedure id (-1 for loading the module). */
  enter(kind: ModuleRunKind, id: number): void;
  /** The module code entered last returned or threw. */
  exit(): void;
}

let current: ModuleRunWatcher | undefined;

/** Installs the watcher of this thread's modules (loaded from now on); undefined removes it. */
export function setModuleRunWatcher(watcher: ModuleRunWatcher | undefined): void {
  current = watcher;
}

/** The watcher installed in this thread, if any. */
export function moduleRunWatcher(): ModuleRunWatcher | undefined {
  return current;
}

/** Runs `f` as module code of `kind`/`id` under `watcher`. */
export function watched<T>(watcher: ModuleRunWatcher | undefined, kind: ModuleRunKind, id: number, f: () => T): T {
  if (!watcher) return f();
  watcher.enter(kind, id);
  try {
    return f();
  } finally {
    watcher.exit();
  }
}
