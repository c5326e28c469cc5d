/** The room id as the archive keys it: decoded, so `dm%3Aa%3Ab` and `dm:a:b` are one room (as in mayJoin). */
export function canonicalRoomId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
