// A first module. Once the dev loop lands (issue 5) its functions are callable on the node as
// {greeter, hello, [name]} and its state survives hot swaps; today `npm start` builds, signs and
// stores it on a local node, and `devtool status` shows its digest.
export const version = "1";

export function hello(name: string): string {
  return `Hello, ${name}, from greeter v${version}`;
}
