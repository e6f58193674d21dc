/**
 * The isolate host: one isolate per module version, hot swap with state migration, the
 * capabilities a module gets. It arrives with the dev-loop issue (issue 5), in its own process
 * supervised by the loader. Every use of isolated-vm stays inside this folder, and which release
 * runs (5 on Node 20, 6 on 22, 7 on 24 and 26) is chosen in one place, host/ivm.ts.
 *
 * Until then this file only fixes the folder's public surface.
 */
export const RUNTIME_API_VERSION = 0;
