/** Who may use an inbox (party/core/inbox-access.ts; PROTOCOL IB7 and I7). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ACTORS_ONLY, DM_NEEDS_ANOTHER_USER, NO_SUCH_ROUTE, OTHER_USERS_INBOX, actorRoute, dmRefusal, isOwner, socketRefusal, userRoute } from "../../party/core/inbox-access.ts";

const alice = { id: "alice", name: "Alice" };
const carol = { id: "carol", name: "Carol" };

describe("inbox access", () => {
  it("only the inbox's own user opens a socket on it", () => {
    assert.equal(isOwner(alice, "alice"), true);
    assert.equal(isOwner(carol, "alice"), false);
    assert.equal(isOwner(undefined, "alice"), false);
    assert.equal(socketRefusal(alice, "alice"), undefined);
    assert.equal(socketRefusal(carol, "alice"), OTHER_USERS_INBOX);
  });

  it("a user's HTTP request reaches their own list and nothing else", () => {
    assert.equal(userRoute(alice, "alice", "GET", "conversations"), "conversations");
    assert.deepEqual(userRoute(undefined, "alice", "GET", "conversations"), { code: "unauthorized" });
    assert.deepEqual(userRoute(carol, "alice", "GET", "conversations"), { code: "forbidden", message: OTHER_USERS_INBOX });
    assert.deepEqual(userRoute(carol, "alice", "POST", "notify"), { code: "forbidden", message: OTHER_USERS_INBOX }, "another user's inbox first");
    assert.deepEqual(userRoute(alice, "alice", "POST", "notify"), { code: "forbidden", message: ACTORS_ONLY });
    assert.deepEqual(userRoute(alice, "alice", "GET", "presence"), { code: "forbidden", message: ACTORS_ONLY });
    assert.deepEqual(userRoute(alice, "alice", "POST", "conversations"), { code: "not_found", message: NO_SUCH_ROUTE });
    assert.deepEqual(userRoute(alice, "alice", "GET", undefined), { code: "not_found", message: NO_SUCH_ROUTE });
  });

  it("actors POST notify and presence; anything else is not found", () => {
    assert.equal(actorRoute("POST", "notify"), "notify");
    assert.equal(actorRoute("POST", "presence"), "presence");
    assert.deepEqual(actorRoute("GET", "notify"), { code: "not_found", message: NO_SUCH_ROUTE });
    assert.deepEqual(actorRoute("GET", "conversations"), { code: "not_found", message: NO_SUCH_ROUTE });
    assert.deepEqual(actorRoute("POST", undefined), { code: "not_found", message: NO_SUCH_ROUTE });
  });

  it("a direct message goes to another user", () => {
    assert.equal(dmRefusal("alice", "bob"), undefined);
    assert.equal(dmRefusal("alice", "alice"), DM_NEEDS_ANOTHER_USER);
  });
});
