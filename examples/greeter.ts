// A second module, called by index.ts on the same node: ctx.call("greeter", "greet", name).
// Also callable from outside: `devtool call greeter greet '"Ada"'`.
import { defineModule } from "fixpoint";

export default defineModule({
  version: "1",
  state: { greeted: 0 },
  functions: {
    greet: (ctx, name: string) => {
      ctx.state.greeted++;
      return `Hello, ${name}!`;
    },
    greeted: (ctx) => ctx.state.greeted,
  },
});
