/**
 * DOMException, which atob/btoa throw (name "InvalidCharacterError") and which module code
 * may test for by name, as in browsers and Node.
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */

// The legacy error names with their numeric codes and constant names, kept because code
// written for browsers still compares `code` (e.g. `e.code === DOMException.ABORT_ERR`).
const LEGACY: ReadonlyArray<readonly [name: string, code: number, constant: string]> = [
  ["IndexSizeError", 1, "INDEX_SIZE_ERR"],
  ["", 2, "DOMSTRING_SIZE_ERR"],
  ["HierarchyRequestError", 3, "HIERARCHY_REQUEST_ERR"],
  ["WrongDocumentError", 4, "WRONG_DOCUMENT_ERR"],
  ["InvalidCharacterError", 5, "INVALID_CHARACTER_ERR"],
  ["", 6, "NO_DATA_ALLOWED_ERR"],
  ["NoModificationAllowedError", 7, "NO_MODIFICATION_ALLOWED_ERR"],
  ["NotFoundError", 8, "NOT_FOUND_ERR"],
  ["NotSupportedError", 9, "NOT_SUPPORTED_ERR"],
  ["InUseAttributeError", 10, "INUSE_ATTRIBUTE_ERR"],
  ["InvalidStateError", 11, "INVALID_STATE_ERR"],
  ["SyntaxError", 12, "SYNTAX_ERR"],
  ["InvalidModificationError", 13, "INVALID_MODIFICATION_ERR"],
  ["NamespaceError", 14, "NAMESPACE_ERR"],
  ["InvalidAccessError", 15, "INVALID_ACCESS_ERR"],
  ["", 16, "VALIDATION_ERR"],
  ["TypeMismatchError", 17, "TYPE_MISMATCH_ERR"],
  ["SecurityError", 18, "SECURITY_ERR"],
  ["NetworkError", 19, "NETWORK_ERR"],
  ["AbortError", 20, "ABORT_ERR"],
  ["URLMismatchError", 21, "URL_MISMATCH_ERR"],
  ["QuotaExceededError", 22, "QUOTA_EXCEEDED_ERR"],
  ["TimeoutError", 23, "TIMEOUT_ERR"],
  ["InvalidNodeTypeError", 24, "INVALID_NODE_TYPE_ERR"],
  ["DataCloneError", 25, "DATA_CLONE_ERR"],
];
const CODES = new Map(LEGACY.filter(([name]) => name !== "").map(([name, code]) => [name, code]));

/** @example new DOMException("Invalid character", "InvalidCharacterError").code === 5 */
export class DOMException extends Error {
  #name: string;
  #message: string;

  constructor(message: unknown = "", name: unknown = "Error") {
    // `message` is read through the getter below, as in browsers, so the own property super()
    // makes is deleted. It is passed all the same: V8 13 (Node 24 and later) writes the stack's
    // first line from it, and without it a DOMException's stack began "AbortError", not
    // "AbortError: m" as Node's does.
    super(String(message));
    Reflect.deleteProperty(this, "message");
    this.#message = String(message);
    this.#name = String(name);
  }

  // V8 may read these while super() runs, before the private fields exist.
  override get name(): string {
    return #name in this ? this.#name : "Error";
  }

  override get message(): string {
    return #message in this ? this.#message : "";
  }

  get code(): number {
    return CODES.get(this.name) ?? 0;
  }

  static {
    for (const [, code, constant] of LEGACY) {
      const property = { value: code, enumerable: true };
      Object.defineProperty(this, constant, property);
      Object.defineProperty(this.prototype, constant, property);
    }
  }
}
