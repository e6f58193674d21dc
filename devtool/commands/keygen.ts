import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { hostname, userInfo } from "node:os";
import { FixpointError, fingerprint, formatIdentity, formatPublicKeyLine, generateKeyPair, restrictToOwner } from "../../loader/index.js";
import { writeFileAtomic } from "../files/write-atomic.js";
import { parseCommandLine, stringOption } from "../ui/args.js";
import { identityPath } from "../home.js";

export const HELP = `Usage: devtool keygen [--out FILE] [--comment TEXT] [--force]

Creates an Ed25519 identity: FILE (private, mode 0600) and FILE.pub (one line, to give to a
node's operator for \`loader authorize\`). Prints the public key and its fingerprint.

Options:
  --out FILE      where to write (default $FIXPOINT_IDENTITY or ~/.fixpoint/id_ed25519)
  --identity FILE same as --out
  --comment TEXT  a note kept in FILE.pub (default user@host)
  --force         overwrite an existing identity
`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { out: { type: "string" }, identity: { type: "string" }, comment: { type: "string" }, force: { type: "boolean" } }, 0);
  if (parsed.values["help"] === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const file = identityPath(stringOption(parsed, "out") ?? stringOption(parsed, "identity"));
  if (existsSync(file) && parsed.values["force"] !== true) {
    throw new FixpointError("USAGE", `${file} already exists; pass --force to replace it (nodes that trust the old key will refuse the new one)`);
  }
  const comment = stringOption(parsed, "comment") ?? `${userInfo().username}@${hostname()}`;
  if (/[\r\n]/.test(comment)) throw new FixpointError("USAGE", "--comment must be one line");
  const pair = generateKeyPair();
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, formatIdentity(pair), 0o600);
  restrictToOwner(file);
  writeFileSync(`${file}.pub`, formatPublicKeyLine(pair.publicKey, comment) + "\n");
  process.stdout.write(
    `Wrote identity ${file} and ${file}.pub\n` + `public key:  ${formatPublicKeyLine(pair.publicKey)}\n` + `fingerprint: ${fingerprint(pair.publicKey)}\n`,
  );
  return 0;
}
