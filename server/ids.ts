// Row ids are UUIDs. An id from a URL or a form is checked before it reaches a query, so a malformed one is simply
// "not found" instead of a database error.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}
