/**
 * The package as a user gets it (issue 14): `npm pack`, installed from the tarball into an
 * empty project, with nothing of this repository on the way but the TypeScript compiler and
 * Node's types. A module importing "fixpoint" and a program importing "fixpoint/client" and
 * "fixpoint/node" type-check against the installed declarations; the installed bins start a
 * node, push the module and call it; the program drives the node with the installed client.
 *
 * The install runs against the registry as configured (~/.npmrc honoured), --prefer-offline.
 * isolated-vm has no prebuilt binary for Node 20 and compiles for minutes on a CI machine, so
 * by default the install skips install scripts and takes each native build this repository's
 * own install already made for the same package version and Node (a copy of its build
 * output), and runs the install script of any it has not; FIXPOINT_PACKAGE_FULL_INSTALL=1 runs
 * every install script as a user's `npm install` does (measured here: about 4 minutes on two
 * shared cores, isolated-vm's compile nearly all of it).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, tempDir } from "../helpers/processes.js";
import { onLogLines } from "../../devtool/nodes/log-lines.js";

const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const FULL_INSTALL = process.env["FIXPOINT_PACKAGE_FULL_INSTALL"] === "1";

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 300_000): SpawnSyncReturns<string> & { ms: number } {
  const t0 = performance.now();
  const r = spawnSync(command, args, { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", ...env }, timeout: timeoutMs });
  return Object.assign(r, { ms: performance.now() - t0 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}${r.error === undefined ? "" : ` (${r.error.message})`}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const versionOf = (dir: string): string | undefined => (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version?: string }).version;

/**
 * The installed package's native dependencies, built: each isolated-vm alias from this
 * repository's install when it holds the same version built (its build output is all an
 * install script makes), else by its own install script; then the others' scripts.
 */
function buildNative(app: string): string[] {
  const notes: string[] = [];
  const installed = join(app, "node_modules");
  for (const name of readdirSync(installed).filter((n) => n.startsWith("isolated-vm"))) {
    const ours = join(ROOT, "node_modules", name);
    if (existsSync(join(ours, "out")) && versionOf(ours) === versionOf(join(installed, name))) {
      cpSync(join(ours, "out"), join(installed, name, "out"), { recursive: true });
      notes.push(`${name}: this repository's build`);
    } else {
      const r = run("npm", ["rebuild", name, "--prefer-offline"], app);
      notes.push(`${name}: install script ${r.status === 0 ? "ran" : `failed (an optional dependency for another Node line): ${r.stderr.trim().split("\n").at(-1)}`} in ${(r.ms / 1000).toFixed(1)} s`);
    }
  }
  ok(run("npm", ["rebuild", "esbuild", "cbor-extract", "--prefer-offline"], app), "npm rebuild esbuild cbor-extract");
  return notes;
}

/** A program on both library entries: what it uses must exist at run time with these types. */
const PROGRAM = `import { connectNode, FixpointError, type NodeClient, type NodeStatus } from "fixpoint/client";
import { startNode, generateKeyPair, type StartNodeOptions } from "fixpoint/node";

// The embedding entry's API, as a host app sees it.
const start: (options: StartNodeOptions) => Promise<unknown> = startNode;
if (typeof start !== "function" || generateKeyPair().publicKey.length !== 32) process.exit(10);

const [address, identity] = process.argv.slice(2) as [string, string];
const node: NodeClient = await connectNode({ address, identity });
try {
  await node.call("greeter", "greet", "Grace");
  const status: NodeStatus = await node.status();
  console.log(JSON.stringify({ greeted: await node.call<number>("greeter", "greeted"), modules: status.modules.map((m) => m.name) }));
  await node.call("greeter", "absent").catch((err: unknown) => {
    if (!(err instanceof FixpointError) || err.code !== "FUNCTION_NOT_FOUND") throw err;
  });
} finally {
  await node.close();
}
`;

const STRICT = { strict: true, noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, skipLibCheck: true, target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext" };

test("the packed package installs into an empty project, type-checks against it, and its bins and client run a node", { timeout: 900_000 }, async (t) => {
  const work = tempDir("fixpoint-package-");

  // Packed as published: prepack builds dist/ with the declarations.
  const packed = run("npm", ["pack", "--pack-destination", work], ROOT);
  ok(packed, "npm pack");
  const tarball = join(work, packed.stdout.trim().split("\n").at(-1)!);
  const files = ok(run("tar", ["-tzf", tarball], work), "tar -t").split("\n").filter((f) => f !== "");
  for (const needed of ["dist/loader.js", "dist/devtool.js", "dist/fixpoint.js", "dist/runtime.js", "dist/isolate-bootstrap.js", "dist/api.js", "dist/node.js", "dist/client.js", "dist/types/devtool/embed/index.d.ts", "dist/types/devtool/client/index.d.ts", "runtime/api.ts", "package.json"]) {
    assert.ok(files.includes(`package/${needed}`), `the tarball holds ${needed}`);
  }
  const shippedSources = files.filter((f) => /^package\/(test|bench|examples|scripts|loader|devtool|\.ci)\//.test(f) || (/\.ts$/.test(f) && !f.endsWith(".d.ts") && f !== "package/runtime/api.ts"));
  assert.deepEqual(shippedSources, [], "no tests, benchmarks, examples, scripts or sources are shipped");
  assert.ok(!files.includes("package/dist/types/.tsbuildinfo"));
  t.diagnostic(`packed ${files.length} files in ${(packed.ms / 1000).toFixed(1)} s`);

  const app = join(work, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  const install = run("npm", ["install", tarball, "--prefer-offline", "--no-audit", "--no-fund", ...(FULL_INSTALL ? [] : ["--ignore-scripts"])], app, {}, 900_000);
  ok(install, "npm install");
  const notes = FULL_INSTALL ? ["every install script ran"] : buildNative(app);
  t.diagnostic(`npm install took ${(install.ms / 1000).toFixed(1)} s; native builds: ${notes.join("; ")}`);

  // The module, against "fixpoint" as installed: the isolate's globals, no Node.
  // The repository's own example module, as a user would copy it into their project.
  cpSync(join(ROOT, "examples/greeter.ts"), join(app, "greeter.ts"));
  writeFileSync(join(app, "tsconfig.module.json"), JSON.stringify({ compilerOptions: { ...STRICT, noEmit: true, lib: ["ES2022", "DOM"], types: [] }, files: ["greeter.ts"] }));
  ok(run(process.execPath, [TSC, "-p", "tsconfig.module.json"], app), "tsc (module)");
  writeFileSync(join(app, "wrong.ts"), `import { defineModule } from "fixpoint";\nexport default defineModule({ version: 1, state: {} });\n`);
  writeFileSync(join(app, "tsconfig.wrong.json"), JSON.stringify({ compilerOptions: { ...STRICT, noEmit: true, lib: ["ES2022", "DOM"], types: [] }, files: ["wrong.ts"] }));
  const wrong = run(process.execPath, [TSC, "-p", "tsconfig.wrong.json"], app);
  assert.match(wrong.stdout, /wrong\.ts\(2,31\): error TS2322/, "the installed types catch a module's mistakes");

  // The program and the CI example, against "fixpoint/client" and "fixpoint/node" as installed.
  writeFileSync(join(app, "drive.ts"), PROGRAM);
  mkdirSync(join(app, "ci"));
  cpSync(join(ROOT, "examples/ci/deploy.ts"), join(app, "ci/deploy.ts"));
  // And the README's client examples, as a reader pastes them.
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("### Drive nodes from your scripts\n"), readme.indexOf("\n## ", readme.indexOf("### Drive nodes from your scripts\n")));
  const snippets = [...section.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  assert.ok(snippets.length >= 2, "the README's section has its client examples");
  snippets.forEach((code, i) => writeFileSync(join(app, "ci", `readme-${i + 1}.ts`), code));
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { ...STRICT, lib: ["ES2023"], types: ["node"], typeRoots: [join(ROOT, "node_modules/@types")], outDir: "build", rootDir: "." }, include: ["drive.ts", "ci/*.ts"] }),
  );
  ok(run(process.execPath, [TSC, "-p", "tsconfig.json"], app), "tsc (program)");

  // A node from the installed bins, as the README's quick start runs them, under a home of its own.
  const env = { FIXPOINT_HOME: join(app, "home"), FIXPOINT_IDENTITY: "" };
  ok(run("npx", ["fixpoint", "keygen"], app, env), "npx fixpoint keygen");
  ok(run("npx", ["loader", "init", "--data", "node", "--name", "packaged"], app, env), "npx loader init");
  ok(run("npx", ["fixpoint", "loader", "authorize", "--data", "node", "--key", join(app, "home/id_ed25519.pub"), "--roles", "dev,observe"], app, env), "npx fixpoint loader authorize");
  const loader = spawn(join(app, "node_modules/.bin/loader"), ["start", "--data", "node", "--listen", "127.0.0.1:0", "--log-format", "json"], { cwd: app, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve) => loader.on("exit", resolve));
  let stderr = "";
  loader.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  try {
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the installed loader did not start within 60 s:\n${stderr}`)), 60_000);
      onLogLines(loader.stderr!, (entry) => entry["event"] === "node.started" && (clearTimeout(timer), resolve(String(entry["listen"]))));
      void exited.then((code) => reject(new Error(`the installed loader exited (${code}):\n${stderr}`)));
    });
    const pushed = ok(run("npx", ["devtool", "push", "greeter.ts", "--node", address, "--accept-new"], app, env), "npx devtool push");
    assert.match(pushed, /greeter\s+[0-9a-f]{12}\s+live v1/);
    assert.equal(ok(run("npx", ["fixpoint", "call", "greeter", "greet", '"Ada"', "--node", address], app, env), "npx fixpoint call").trim(), '"Hello, Ada!"');
    // The compiled program, with the key pinned by --accept-new in the home's known_nodes.
    const drove = ok(run(process.execPath, ["build/drive.js", address, join(app, "home/id_ed25519")], app, env), "node build/drive.js");
    assert.deepEqual(JSON.parse(drove), { greeted: 2, modules: ["greeter"] });
  } finally {
    loader.kill("SIGTERM");
    assert.equal(await exited, 0, `the installed loader stops cleanly:\n${stderr}`);
  }
});
