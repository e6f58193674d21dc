// What every module isolate runs before the module: web primitives, then the harness.
import "../prelude/index.js";
import "./harness.js";
