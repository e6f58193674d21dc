/**
 * The isolate host: one isolate per module version, hot swap with state migration, the
 * capabilities a module gets. It arrives with the dev-loop issue (issue 5), in its own process
 * supervised by the loader; every use of isolated-vm will stay inside this folder so that
 * moving from isolated-vm 5 (Node 20) to 6/7 (Node 22/24) is a change in one place.
 *
 * Until then this file only fixes the folder's public surface.
 */
export const RUNTIME_API_VERSION = 0;
