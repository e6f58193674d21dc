/**
 * The Fetch Standard's types a handler `(request: Request) => Response | Promise<Response>`
 * needs. Each lives in its own file; this is their one import point.
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */
export { Headers, type HeadersGuard } from "./headers.js";
export { Request, type RequestInit } from "./request.js";
export { Response, type ResponseInit, type ResponseType } from "./response.js";
