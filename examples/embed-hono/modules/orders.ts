// A module pushed into the node the host app runs: it answers /app/orders/... through the
// host's own server and keeps its orders in the host's database, through the capabilities the
// host grants (../capabilities.ts). Push it with `devtool push` or the client library.
import { defineModule, type HostOf } from "fixpoint";
import type { capabilities } from "../capabilities.js";

// The capabilities' types, taken from the host's own object (a type-only import: nothing of
// the host's code is bundled into the module).
declare module "fixpoint" {
  interface FixpointHost extends HostOf<typeof capabilities> {}
}

export default defineModule({
  version: "1",
  http: async (request, ctx) => {
    const views = await ctx.host.metrics.increment("orders.views");
    if (request.method === "POST") {
      const { item, quantity } = (await request.json()) as { item: string; quantity: number };
      return Response.json(await ctx.host.db.addOrder(item, quantity), { status: 201 });
    }
    return Response.json({ orders: await ctx.host.db.listOrders(), views });
  },
});
