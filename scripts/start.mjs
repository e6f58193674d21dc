// `npm start`: the dev loop on the example app — `devtool dev examples`, through the built CLI
// exactly as a user runs it. The first run creates a local node and a developer identity under
// examples/.fixpoint/ (git-ignored by the .gitignore that devtool dev writes there).
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const child = spawn(process.execPath, [join(root, "dist", "devtool.js"), "dev", join(root, "examples"), ...process.argv.slice(2)], { stdio: "inherit" });
// Ctrl-C reaches both processes; the devtool shuts its node down and exits.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => child.kill("SIGTERM"));
child.on("exit", (code, signal) => process.exit(code ?? (signal === null ? 0 : 1)));
