/**
 * The room's loaded state: the pure core (PROTOCOL I1-I4), the settings operators set, and the decoded
 * room id. It loads them from storage at start and after a failed write (PROTOCOL R3), and stores an
 * operator's settings patch. A stored value never stops a room from starting: settings the code no longer
 * accepts are repaired, and if loading them fails at all the room starts on the defaults (logged).
 */
import type * as Party from "partykit/server";
import { nanoid } from "nanoid";
import { roomKind, LIMITS, type Pin, type RoomSettings, type RoomSettingsPatch } from "../protocol/index.ts";
import { RoomCore } from "../core/room-core.ts";
import { META_KEY, MEMBERS_KEY, MODERATION_PREFIX, PINS_KEY, SETTINGS_KEY, WHERE_KEY, type RoomMeta } from "../core/room-keys.ts";
import { Membership, type MembershipState } from "../core/membership.ts";
import { Moderation, type Restriction } from "../core/moderation.ts";
import { Pins } from "../core/pins.ts";
import { loadSettings, patchSettings, type LoadedSettings } from "../core/settings.ts";
import { canonicalRoomId } from "../archive/room-id.ts";

/** What loading needs: the room's name and its storage. */
export type StateHost = Pick<Party.Room, "id" | "storage">;

export class RoomState {
  private current: RoomCore | undefined;
  /** What operators set, stored as such (defaults stay the code's): see core/settings.ts. */
  private overrides: RoomSettingsPatch = {};
  /** The decoded room id; known from `start` on (`room.id` throws inside alarms, see resolveId). */
  private canonicalId = "";

  constructor(private readonly room: StateHost) {}

  /** The core; loaded by `start` before any handler runs. */
  get core(): RoomCore {
    return this.current!;
  }

  get id(): string {
    return this.canonicalId;
  }

  async start(): Promise<void> {
    this.canonicalId = (await this.resolveId()) ?? "";
    await this.reload();
  }

  /** Rebuilds the core from what is durable (at start, and after a failed write or release). */
  async reload(): Promise<void> {
    this.current = await this.load();
  }

  /**
   * Stores an operator's patch (only what operators set) and applies it. `apply` wraps the switch to the
   * new settings, so a part can compare before and after (the relays' shard count, PROTOCOL R53).
   */
  async updateSettings(patch: RoomSettingsPatch, apply: (change: () => void) => void): Promise<RoomSettings> {
    const next = patchSettings(this.overrides, patch);
    await this.room.storage.put(SETTINGS_KEY, next.overrides);
    this.overrides = next.overrides;
    apply(() => (this.core.settings = next.settings));
    return next.settings;
  }

  private async load(): Promise<RoomCore> {
    const { storage } = this.room;
    const stored = await storage.get<unknown>([META_KEY, SETTINGS_KEY]);
    let meta = stored.get(META_KEY) as RoomMeta | undefined;
    if (!meta) {
      // The epoch names this stream; a room whose storage is lost starts a new one (PROTOCOL I5).
      meta = { epoch: nanoid(12), lastSeq: 0, createdAt: Date.now() };
      await storage.put(META_KEY, meta);
    }
    const { settings, overrides } = this.settingsFrom(stored.get(SETTINGS_KEY));
    this.overrides = overrides;
    const id = this.canonicalId;
    const kind = roomKind(id);
    const moderation = new Moderation(await storage.list<Restriction>({ prefix: MODERATION_PREFIX }));
    // Groups (`g:<id>`) carry members and roles; every command there needs membership.
    const membership = kind === "group" ? new Membership(await storage.get<MembershipState>(MEMBERS_KEY), LIMITS.maxGroupMembers) : undefined;
    const pins = new Pins(await storage.get<Pin[]>(PINS_KEY));
    // DMs: the two participants from the room's name (who may be mentioned, who may pin; PROTOCOL R24, R26).
    const participants = kind === "dm" ? id.split(":").slice(1) : undefined;
    const botsOnly = kind === "notices"; // PROTOCOL R63
    return new RoomCore({
      meta,
      settings,
      moderation,
      pins,
      clock: Date.now,
      dedupeWindow: LIMITS.dedupeWindow,
      recentWindow: LIMITS.recentWindow,
      ...(membership ? { membership } : {}),
      ...(participants ? { participants } : {}),
      ...(botsOnly ? { botsOnly } : {}),
    });
  }

  /** A stored setting the current code no longer accepts is repaired, never a reason not to start. */
  private settingsFrom(stored: unknown): LoadedSettings {
    try {
      const loaded = loadSettings(stored);
      if (loaded.repairs.length > 0) console.warn(`room ${this.canonicalId}: stored settings repaired: ${loaded.repairs.join("; ")}`);
      return loaded;
    } catch (error) {
      console.warn(`room ${this.canonicalId}: loading the stored settings failed; starting on the defaults`, error);
      return loadSettings(undefined);
    }
  }

  /** `room.id` throws inside onAlarm (partykit 0.0.115): fall back to the id stored at the first request. */
  private async resolveId(): Promise<string | undefined> {
    try {
      return canonicalRoomId(this.room.id);
    } catch {
      return (await this.room.storage.get<{ roomId: string }>(WHERE_KEY))?.roomId;
    }
  }
}
