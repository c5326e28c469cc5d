/**
 * A room's settings as stored: only what an operator set (a patch over the code's defaults), so a default
 * changed in code reaches every room that never set it. Loading never fails: a stored value the current
 * code no longer accepts (a limit lowered since it was set, a field removed) is clamped into range or
 * dropped, and each such repair is reported, so a room always starts (PROTOCOL §6, settings).
 */
import { ROOM_SETTING_RANGES, RoomSettings, RoomSettingsPatch } from "../protocol/index.ts";
import { ownValue } from "../protocol/own-keys.ts";

export type LoadedSettings = { settings: RoomSettings; overrides: RoomSettingsPatch; repairs: string[] };

/** The stored overrides (or an older version's fully merged settings), made valid for the current code. */
export function loadSettings(stored: unknown): LoadedSettings {
  const overrides: Record<string, unknown> = {};
  const repairs: string[] = [];
  const isRecord = typeof stored === "object" && stored !== null && !Array.isArray(stored);
  if (stored !== undefined && !isRecord) repairs.push("settings: the stored value is not an object; using the defaults");
  // Own keys only: a stored `constructor` or `__proto__` (JSON.parse makes it an own key) is no setting,
  // never Object's prototype member (whose missing `safeParse` would stop the room from starting).
  const fields: Readonly<Record<string, { safeParse(value: unknown): { success: boolean } }>> = RoomSettingsPatch.shape;
  const ranges: Readonly<Record<string, readonly [number, number]>> = ROOM_SETTING_RANGES;
  for (const [key, value] of Object.entries(isRecord ? (stored as Record<string, unknown>) : {})) {
    const field = ownValue(fields, key);
    if (!field) {
      repairs.push(`${JSON.stringify(key)}: no such setting any more; dropped`);
    } else if (field.safeParse(value).success) {
      overrides[key] = value;
    } else {
      const range = ownValue(ranges, key);
      if (range && typeof value === "number" && Number.isFinite(value)) {
        overrides[key] = repairNumber(key, value, range, repairs);
      } else {
        repairs.push(`${key}: ${JSON.stringify(value)} is not valid any more; back to the default`);
      }
    }
  }
  const patch = RoomSettingsPatch.parse(overrides);
  return { settings: RoomSettings.parse(patch), overrides: patch, repairs };
}

/** A number the field refuses: rounded to a whole number and clamped into range, saying which it was. */
function repairNumber(key: string, value: number, [min, max]: readonly [number, number], repairs: string[]): number {
  const whole = Math.round(value);
  const clamped = Math.min(max, Math.max(min, whole));
  const outside = clamped !== whole ? ` and outside ${min}..${max}` : "";
  if (Number.isInteger(value)) repairs.push(`${key}: ${value} is outside ${min}..${max}; clamped to ${clamped}`);
  else repairs.push(`${key}: ${value} is not a whole number${outside}; ${outside ? "clamped" : "rounded"} to ${clamped}`);
  return clamped;
}

/** An operator's patch on top of what operators set before: the new overrides and the settings they give. */
export function patchSettings(overrides: RoomSettingsPatch, patch: RoomSettingsPatch): { settings: RoomSettings; overrides: RoomSettingsPatch } {
  const next = { ...overrides, ...patch };
  return { settings: RoomSettings.parse(next), overrides: next };
}
