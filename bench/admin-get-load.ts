import { runWrk, type WrkResult } from './wrk.js';

/** An admin's read, sent by wrk while a fleet is (or is not) connected. */
export interface AdminGet {
  name: string;
  path: string;
}

export interface AdminGetRun extends AdminGet {
  result: WrkResult;
}

/** The two reads an admin's tool sends most: one device, and the first page of the list. */
export function adminGets(deviceId: string): AdminGet[] {
  return [
    { name: 'GET one device', path: `/beta/teamwork/devices/${deviceId}` },
    { name: 'GET devices?$top=20', path: '/beta/teamwork/devices?$top=20' },
  ];
}

/**
 * Each GET in turn with wrk (one thread, `connections` connections): a 1 s warm-up that is
 * not measured, then `seconds` measured. Closed loop: each connection sends its next request
 * when the answer arrives, so the GETs never queue behind each other, only behind the server's
 * other work.
 */
export async function measureAdminGets(url: string, token: string, gets: AdminGet[], seconds: number, connections: number): Promise<AdminGetRun[]> {
  const headers = { authorization: `Bearer ${token}` };
  const runs: AdminGetRun[] = [];
  for (const get of gets) {
    const options = { url: url + get.path, headers, connections, seconds };
    await runWrk({ ...options, seconds: 1 });
    runs.push({ ...get, result: await runWrk(options) });
  }
  return runs;
}
