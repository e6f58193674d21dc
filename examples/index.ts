// The example app's front door: every HTTP request to the node lands here (the root module).
// Edit VERSION or the page and save: `npm start` pushes the change, and the counter keeps
// counting — the state lives in the module and is handed to each new version.
import { defineModule } from "fixpoint";

const VERSION = "1";

interface State {
  hits: number;
  startedAt: string;
}

export default defineModule<State>({
  version: VERSION,
  state: () => ({ hits: 0, startedAt: new Date().toISOString() }),
  // Here a new version reshapes the state the old one hands over (Erlang's code_change).
  migrate: (previous, from) => {
    const old = previous as Partial<State>;
    console.log(`state handed over from version ${from} to ${VERSION}`);
    return { hits: old.hits ?? 0, startedAt: old.startedAt ?? new Date().toISOString() };
  },
  functions: {
    hits: (ctx) => ctx.state.hits,
    reset: (ctx) => {
      ctx.state.hits = 0;
      return "reset";
    },
  },
  http: async (request, ctx) => {
    ctx.state.hits++;
    const name = new URL(request.url).searchParams.get("name") ?? "world";
    const greeting = await ctx.call<string>("greeter", "greet", name);
    const body = `${greeting}\nhits: ${ctx.state.hits} since ${ctx.state.startedAt}\nversion: ${VERSION}\n`;
    return new Response(body, { headers: { "content-type": "text/plain; charset=utf-8" } });
  },
  health: (ctx) => ctx.state.hits >= 0,
});
