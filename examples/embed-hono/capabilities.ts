/**
 * What the host app grants its node's modules (issue 14): its own functions, here an in-memory
 * orders table standing in for a database, and a counter standing in for metrics. Modules reach
 * them as ctx.host.db.addOrder(...) and ctx.host.metrics.increment(...); the arguments and
 * results cross as copies, so they are plain data.
 */
export interface Order {
  id: number;
  item: string;
  quantity: number;
}

const orders: Order[] = [];
const counters = new Map<string, number>();

export const capabilities = {
  db: {
    async addOrder(item: string, quantity: number): Promise<Order> {
      const order = { id: orders.length + 1, item, quantity };
      orders.push(order);
      return order;
    },
    async listOrders(): Promise<Order[]> {
      return orders;
    },
  },
  metrics: {
    increment(name: string): number {
      const next = (counters.get(name) ?? 0) + 1;
      counters.set(name, next);
      return next;
    },
  },
};
