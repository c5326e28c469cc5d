/**
 * A room's settings as stored: only what an operator set (a patch over the code's defaults), so a default
 * changed in code reaches every room that never set it. Loading never fails: a stored value the current
 * code no longer accepts (a limit lowered since it was set, a field removed) is clamped into range or
 * dropped, and each such repair is reported, so a room always starts (PROTOCOL §6, settings).
 */
import { ROOM_SETTING_RANGES, RoomSettings, RoomSettingsPatch } from "../protocol/index.ts";

export type LoadedSettings = { settings: RoomSettings; overrides: RoomSettingsPatch; repairs: string[] };

/** The stored overrides (or an older version's fully merged settings), made valid for the current code. */
export function loadSettings(stored: unknown): LoadedSettings {
  const overrides: Record<string, unknown> = {};
  const repairs: string[] = [];
  const isRecord = typeof stored === "object" && stored !== null && !Array.isArray(stored);
  if (stored !== undefined && !isRecord) repairs.push("settings: the stored value is not an object; using the defaults");
  const fields = RoomSettingsPatch.shape;
  for (const [key, value] of Object.entries(isRecord ? (stored as Record<string, unknown>) : {})) {
    const field = fields[key as keyof typeof fields];
    if (!field) {
      repairs.push(`${key}: no such setting any more; dropped`);
    } else if (field.safeParse(value).success) {
      overrides[key] = value;
    } else {
      const range = (ROOM_SETTING_RANGES as Record<string, readonly [number, number]>)[key];
      if (range && typeof value === "number" && Number.isFinite(value)) {
        const clamped = Math.min(range[1], Math.max(range[0], Math.round(value)));
        overrides[key] = clamped;
        repairs.push(`${key}: ${value} is outside ${range[0]}..${range[1]}; clamped to ${clamped}`);
      } else {
        repairs.push(`${key}: ${JSON.stringify(value)} is not valid any more; back to the default`);
      }
    }
  }
  const patch = RoomSettingsPatch.parse(overrides);
  return { settings: RoomSettings.parse(patch), overrides: patch, repairs };
}

/** An operator's patch on top of what operators set before: the new overrides and the settings they give. */
export function patchSettings(overrides: RoomSettingsPatch, patch: RoomSettingsPatch): { settings: RoomSettings; overrides: RoomSettingsPatch } {
  const next = { ...overrides, ...patch };
  return { settings: RoomSettings.parse(next), overrides: next };
}
