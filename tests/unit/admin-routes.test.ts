import { test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_ROUTES, matchRoute } from "../../party/worker/admin-routes.ts";
import { ModerateBody, RoomId } from "../../party/protocol/admin-schema.ts";

test("every route in the table matches itself, and only with its method", () => {
  for (const route of ADMIN_ROUTES) {
    const path = route.path.replace(":room", "dm:alice:bob");
    const hit = matchRoute(route.method, path);
    assert.equal(hit.route, route, `${route.method} ${route.path}`);
    if (route.path.includes(":room")) assert.equal((hit as { room?: string }).room, "dm:alice:bob");
    const wrong = matchRoute("DELETE", path);
    assert.deepEqual(wrong, { pathKnown: true });
  }
  assert.deepEqual(matchRoute("GET", "/admin/nope"), { pathKnown: false });
  assert.deepEqual(matchRoute("GET", "/admin/rooms//messages"), { pathKnown: false });
});

test("admin inputs: room ids are plain, ban and mute need a bounded expiry", () => {
  assert.equal(RoomId.safeParse("dm:a:b").success, true);
  assert.equal(RoomId.safeParse("has space").success, false);
  assert.equal(RoomId.safeParse("a/b").success, false);
  assert.equal(ModerateBody.safeParse({ user: "u", action: "ban", durationMs: 1000 }).success, true);
  assert.equal(ModerateBody.safeParse({ user: "u", action: "ban" }).success, false);
  assert.equal(ModerateBody.safeParse({ user: "u", action: "unban", durationMs: 1000 }).success, false);
  assert.equal(ModerateBody.safeParse({ user: "u", action: "mute", durationMs: 400 * 24 * 3_600_000 }).success, false);
  assert.equal(ModerateBody.safeParse({ user: "u", action: "mute", durationMs: 1000, extra: 1 }).success, false);
});
