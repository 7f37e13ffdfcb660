// Platform operators (staff of the SaaS, not users of any tenant), created by
// the owner; `npm run operator:create` (bin/operator-create.ts) calls this.
import { withClient } from "./setup.ts";

/** Creates an operator through app_private.create_operator (owner only). Returns its id. */
export async function createOperator(ownerUrl: string, email: string, name: string, password: string): Promise<string> {
  return withClient(ownerUrl, async (client) => {
    const { rows } = await client.query<{ id: string }>("select (app_private.create_operator($1, $2, $3)).id", [email, name, password]);
    return rows[0].id;
  });
}
