// Messages between the pages and the service worker, named once for both sides.
export const SW_MESSAGES = {
  /** Page → waiting worker: the patient chose "Reload"; take over now. */
  skipWaiting: 'carepost:skip-waiting',
  /** Page → worker, and worker → pages: clear what this device keeps for a person (PW2). */
  clearUserState: 'carepost:clear-user-state',
} as const;
