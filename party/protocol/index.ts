export * from "./codes.ts";
export * from "./limits.ts";
export * from "./schema.ts";
export * from "./inbox-schema.ts";
export * from "./room-kind.ts";
export * from "./connect.ts";
export * from "./error-frame.ts";
export * from "./decode.ts";
