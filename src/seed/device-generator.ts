import type { Device, HardwareDetail, UserIdentity } from '../domain/device.js';
import type { InstalledVersions } from '../domain/device-health.js';
import type { ActivityState, DeviceType, HealthStatus, SoftwareType } from '../domain/enums.js';
import type { IdentitySet } from '../domain/identity.js';
import { SeededRandom, seedOf } from './seeded-random.js';

export interface GenerateOptions { tenantId: string; count: number; seed?: number; now?: Date; startIndex?: number }

export type DeviceFamily = 'windows' | 'android';

export function deviceFamily(deviceType: DeviceType): DeviceFamily {
  return deviceType === 'teamsRoom' || deviceType === 'surfaceHub' ? 'windows' : 'android';
}

/** Versions per software type and device family, oldest → newest; the newest is the one offered as update. */
export const demoSoftwareVersions: Record<SoftwareType, { windows: string[]; android: string[] }> = {
  adminAgent: {
    windows: ['2023.9.12.1', '2024.3.5.2', '2024.8.20.4'],
    android: ['1.0.0.202310240611.product', '1.0.0.202403150835.product', '1.0.0.202407300912.product'],
  },
  operatingSystem: { windows: ['10.0.19045.3803', '10.0.19045.4291', '10.0.22621.3880'], android: ['10', '11', '12'] },
  teamsClient: {
    windows: ['4.19.53.0', '5.0.111.0', '5.1.24.0'],
    android: ['1.0.96.2023120401', '1.0.96.2024030502', '1.0.96.2024061103'],
  },
  firmware: { windows: [], android: ['122.15.0.27', '122.15.0.40', '122.15.0.61'] },
  partnerAgent: { windows: [], android: ['1.0.0.202308020142', '1.0.0.202402070221', '1.0.0.202406110445'] },
  companyPortal: { windows: [], android: ['5.0.6021.0', '5.0.6085.0', '5.0.6198.0'] },
};

// --- deterministic randomness ------------------------------------------------------------

// One generator for the whole module, reseeded per device rather than one per device:
// generation is synchronous, and this saves an allocation per device.
const random = new SeededRandom(0);
const next32 = (): number => random.next32();
const rnd = (): number => random.next();
const int = (n: number): number => random.int(n);
const chance = (p: number): boolean => random.chance(p);
const pick = <T>(a: readonly T[]): T => random.pick(a);

// murmur3 finalizer: a bijection on 32-bit ints, so distinct indexes give distinct words
// (ids, serials, uniqueIds) no matter which batch (startIndex) produced them.
function fmix32(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  return h >>> 0;
}

interface Weighted<T> { items: T[]; cum: number[]; total: number }
function weighted<T>(pairs: [T, number][]): Weighted<T> {
  let total = 0;
  const cum = pairs.map(([, w]) => (total += w));
  return { items: pairs.map(([v]) => v), cum, total };
}
function pickW<T>(w: Weighted<T>): T {
  const r = rnd() * w.total;
  for (let i = 0; i < w.cum.length; i++) if (r < w.cum[i]) return w.items[i];
  return w.items[w.items.length - 1];
}

// A string over 12 chars built with + or a template is a tree of cons strings (about 400 bytes for
// a uuid) that the device keeps alive; reading a char makes V8 flatten it to one string, which
// cut retained memory, and so GC time, by a third.
function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const HEXU = HEX.map((h) => h.toUpperCase());
const hex8 = (n: number): string => HEX[n >>> 24] + HEX[(n >>> 16) & 255] + HEX[(n >>> 8) & 255] + HEX[n & 255];
const hex4 = (n: number): string => HEX[(n >>> 8) & 255] + HEX[n & 255];
const hexU8 = (n: number): string => HEXU[n >>> 24] + HEXU[(n >>> 16) & 255] + HEXU[(n >>> 8) & 255] + HEXU[n & 255];
const uuidFrom = (w0: number, w1: number, w2: number, w3: number): string =>
  flat(`${hex8(w0)}-${hex4(w1 >>> 16)}-4${HEX[(w1 >>> 8) & 15][1]}${HEX[w1 & 255]}-${hex4(((w2 >>> 16) & 0x3fff) | 0x8000)}-${hex4(w2)}${hex8(w3)}`);
const uuid = (): string => uuidFrom(next32(), next32(), next32(), next32());

const DAY = 86_400_000;
const P2 = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const P3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
const dayPrefixes = new Map<number, string>();
// Same output as toISOString, which was the hottest call; the date part repeats across devices.
function iso(ms: number): string {
  let r = Math.floor(ms);
  const day = Math.floor(r / DAY);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) dayPrefixes.set(day, (prefix = new Date(day * DAY).toISOString().slice(0, 11)));
  r -= day * DAY;
  const milli = r % 1000; r = (r - milli) / 1000;
  const sec = r % 60; r = (r - sec) / 60;
  const min = r % 60;
  return flat(`${prefix}${P2[(r - min) / 60]}:${P2[min]}:${P2[sec]}.${P3[milli]}Z`);
}

// --- catalog -----------------------------------------------------------------------------

// Parts that are the same for many devices are shared rather than copied (most of the cost of
// 150k devices is GC). They are frozen so that an in-place edit fails loudly instead of leaking
// into other devices; the domain code replaces documents rather than editing them.
const frozen = <T extends object>(o: T): T => Object.freeze(o);

interface Peripheral { id: string; displayName: string; vendorId: string | null; productId: string | null }
const per = (name: string, vendorId: string | null, productId: string | null): Peripheral =>
  frozen({ id: name, displayName: name, vendorId, productId });

interface Vendor { name: string; ouis: [string, string]; serialPrefix: string; usbVid: string }
const vendor = (name: string, ouis: [string, string], serialPrefix: string, usbVid: string): Vendor =>
  ({ name, ouis, serialPrefix, usbVid });
const V = {
  yealink: vendor('yealink', ['80:5E:C0', '24:9A:D8'], '8031', 'VID_6993'), poly: vendor('poly', ['00:04:F2', '64:16:7F'], '8L14', 'VID_095D'),
  logitech: vendor('logitech', ['44:73:D6', '00:1F:20'], '2219', 'VID_046D'), lenovo: vendor('lenovo', ['98:FA:9B', '8C:16:45'], 'PF3K', 'VID_17EF'),
  hp: vendor('hp', ['3C:52:82', '94:57:A5'], 'CZC1', 'VID_03F0'), dell: vendor('dell', ['F8:BC:12', 'B0:7B:25'], 'DL7H', 'VID_413C'),
  crestron: vendor('crestron', ['00:10:7F', '00:10:7E'], '1941', 'VID_14BE'),
  audiocodes: vendor('audiocodes', ['00:90:8F', '00:1A:2B'], 'AC45', 'VID_2B0E'),
  microsoft: vendor('microsoft', ['28:18:78', 'C4:9D:ED'], '0A31', 'VID_045E'), cisco: vendor('cisco', ['00:1B:54', 'F8:7B:20'], 'FCH2', 'VID_05A6'),
};
const HDMI = per('HDMI Ingest', null, null);

interface Model {
  vendor: Vendor; model: string; hostPrefix: string;
  camera: Peripheral; speaker: Peripheral; mic: Peripheral; display: Peripheral; compute: Peripheral; hardwareConfiguration: object;
}
function m(v: Vendor, model: string, label: string, cpu: string | null = null): Model {
  const compute = per(label, null, null);
  return {
    vendor: v, model, hostPrefix: `${v.name.slice(0, 3)}-${model.replace(/[^a-z0-9]/g, '')}`.toUpperCase(),
    camera: per(`${label} Camera`, v.usbVid, null), speaker: per(`${label} Speaker`, v.usbVid, null),
    mic: per(`${label} Microphone`, v.usbVid, null), display: per(`${label} Display`, null, null), compute,
    hardwareConfiguration: frozen({ compute, hdmiIngest: HDMI, processorModel: cpu }),
  };
}
const I5 = 'Intel(R) Core(TM) i5-8365UE CPU @ 1.60GHz';
const I7 = 'Intel(R) Core(TM) i7-8665UE CPU @ 1.70GHz';
const I5G11 = 'Intel(R) Core(TM) i5-1145G7E @ 2.60GHz';
const ARM = 'Qualcomm(R) Snapdragon(TM) 845';

const MODELS: Record<string, Model[]> = {
  teamsRoom: [m(V.lenovo, 'thinksmart core', 'Lenovo ThinkSmart Core', I5G11), m(V.logitech, 'tap', 'Logitech Tap', I7),
    m(V.hp, 'elite slice g2', 'HP Elite Slice G2', I5), m(V.dell, 'optiplex 7090 ultra', 'Dell OptiPlex 7090 Ultra', I5G11),
    m(V.crestron, 'uc-engine', 'Crestron UC-Engine', I7), m(V.yealink, 'mcore pro', 'Yealink MCore Pro', I5G11)],
  collaborationBar: [m(V.yealink, 'a20', 'Yealink MeetingBar A20', ARM), m(V.yealink, 'a30', 'Yealink MeetingBar A30', ARM),
    m(V.poly, 'studio x30', 'Poly Studio X30', ARM), m(V.poly, 'studio x50', 'Poly Studio X50', ARM),
    m(V.logitech, 'rally bar', 'Logitech Rally Bar', ARM), m(V.logitech, 'rally bar mini', 'Logitech Rally Bar Mini', ARM)],
  ipPhone: [m(V.yealink, 'mp54', 'Yealink MP54'), m(V.yealink, 'mp56', 'Yealink MP56'), m(V.yealink, 'mp58', 'Yealink MP58'),
    m(V.poly, 'ccx 400', 'Poly CCX 400'), m(V.poly, 'ccx 500', 'Poly CCX 500'), m(V.poly, 'ccx 600', 'Poly CCX 600'),
    m(V.audiocodes, 'c450hd', 'AudioCodes C450HD')],
  teamsPanel: [m(V.yealink, 'roompanel', 'Yealink RoomPanel'), m(V.crestron, 'tss-770', 'Crestron TSS-770'),
    m(V.logitech, 'tap scheduler', 'Logitech Tap Scheduler'), m(V.audiocodes, 'rxpanel', 'AudioCodes RXPanel')],
  teamsDisplay: [m(V.lenovo, 'thinksmart view', 'Lenovo ThinkSmart View'), m(V.yealink, 'deskvision a24', 'Yealink DeskVision A24')],
  surfaceHub: [m(V.microsoft, 'surface hub 2s', 'Microsoft Surface Hub 2S', 'Intel(R) Core(TM) i5-7300U CPU @ 2.60GHz'),
    m(V.microsoft, 'surface hub 3', 'Microsoft Surface Hub 3', I5G11)],
  lowCostPhone: [m(V.yealink, 'mp52', 'Yealink MP52'), m(V.audiocodes, 'c435hd', 'AudioCodes C435HD'), m(V.poly, 'ccx 350', 'Poly CCX 350')],
  touchConsole: [m(V.yealink, 'ctp18', 'Yealink CTP18'), m(V.poly, 'tc8', 'Poly TC8'), m(V.logitech, 'tap ip', 'Logitech Tap IP')],
  sip: [m(V.poly, 'vvx 450', 'Poly VVX 450'), m(V.yealink, 't54w', 'Yealink T54W'), m(V.cisco, 'cp-8841', 'Cisco CP-8841')],
};

const TYPES = weighted<DeviceType>([['teamsRoom', 30], ['collaborationBar', 15], ['ipPhone', 25], ['teamsPanel', 10],
  ['teamsDisplay', 5], ['surfaceHub', 3], ['lowCostPhone', 7], ['touchConsole', 3], ['sip', 2]]);
const HEALTH = weighted<HealthStatus>([['healthy', 75], ['nonUrgent', 12], ['critical', 2], ['offline', 8], ['unknown', 3]]);
const ACTIVITY = weighted<ActivityState>([['idle', 72], ['busy', 20], ['unavailable', 3], ['unknown', 5]]);

const ROOM_CAMERAS = [per('Logitech Rally Camera', 'VID_046D', 'PID_0881'), per('Poly EagleEye Cube USB', 'VID_095D', 'PID_9217'),
  per('Huddly IQ', 'VID_2BD9', 'PID_0021'), per('Yealink UVC86', 'VID_6993', 'PID_B0A5'), per('Logitech MeetUp', 'VID_046D', 'PID_0866')];
const CONTENT_CAMERAS = [per('Logitech Scribe', 'VID_046D', 'PID_0893'), per('Huddly Canvas', 'VID_2BD9', 'PID_0031')];
const AUDIO_KITS: [Peripheral, Peripheral][] = [
  [per('Echo Cancelling Speakerphone (Logitech Rally Audio)', 'VID_046D', 'PID_0885'), per('Microphone (Logitech Rally Mic Pod)', 'VID_046D', 'PID_0885')],
  [per('Echo Cancelling Speakerphone (Jabra SPEAK 810)', 'VID_0B0E', 'PID_0420'), per('Microphone (Jabra SPEAK 810)', 'VID_0B0E', 'PID_0420')],
  [per('Speakers (Shure P300)', 'VID_14ED', 'PID_3000'), per('Microphone (Shure MXA910)', 'VID_14ED', 'PID_3000')],
  [per('Speakers (Sennheiser TeamConnect Bar)', 'VID_1395', 'PID_0300'), per('Microphone (Sennheiser TCC2)', 'VID_1395', 'PID_0300')],
];
const DISPLAYS = [per('Samsung QM65R', 'SAM', '0F4F'), per('LG 65UH5F', 'GSM', '7711'), per('Sony FW-65BZ35F', 'SNY', '7F03'),
  per('NEC MultiSync E658', 'NEC', '6A47')];
const HEADSETS: [Peripheral, Peripheral][] = [['Jabra Evolve2 65', 'VID_0B0E', 'PID_0305'],
  ['Poly Voyager Focus 2', 'VID_047F', 'PID_02E6'], ['Yealink WH62', 'VID_6993', 'PID_B0B6']]
  .map(([n, v, p]) => [per(n, v, p), per(`${n} Microphone`, v, p)]);

const ROOM_NAMES = ['Rainier', 'Baker', 'Shasta', 'Hood', 'Olympus', 'Denali', 'Whitney', 'Elbert', 'Adams', 'Cascade',
  'Tahoe', 'Crater', 'Sequoia', 'Yosemite', 'Zion', 'Acadia', 'Glacier', 'Sierra', 'Redwood', 'Columbia', 'Puget', 'Orca',
  'Everest', 'Kilimanjaro', 'Fuji', 'Matterhorn', 'Aconcagua', 'Elbrus', 'Vinson', 'Kosciuszko', 'Atlas', 'Andes'];
const FIRST = ['Evan', 'Megan', 'Adele', 'Alex', 'Diego', 'Grady', 'Henrietta', 'Isaiah', 'Johanna', 'Joni', 'Lee', 'Lidia',
  'Lynne', 'Miriam', 'Nestor', 'Patti', 'Pradeep', 'Sofia', 'Wei', 'Yuki', 'Amara', 'Carlos', 'Fatima', 'Liam', 'Noah', 'Olga'];
const LAST = ['Lewis', 'Bowen', 'Vance', 'Wilber', 'Siciliani', 'Archie', 'Cantrell', 'Langer', 'Lauer', 'Sherman', 'Gu',
  'Holloway', 'Robbins', 'Graham', 'Wilke', 'Fernandez', 'Gupta', 'Rossi', 'Chen', 'Tanaka', 'Okafor', 'Mendes', 'Haddad'];
const NOTES = ['Board room, 4th floor', 'Huddle space next to the kitchen', 'Reception desk', 'Loaner device, return to IT',
  'Replaced power supply in March', 'Executive suite', 'Training room, ground floor', 'Lobby check-in',
  'Hot-desking area, east wing', 'Mounted outside the room entrance', 'Pilot device for the new firmware ring'];
const ADMINS = ['Megan Bowen', 'Adele Vance', 'Nestor Wilke', 'Patti Fernandez', 'Grady Archie', 'Lidia Holloway'];
const ROOM_ACCOUNT_TYPES = new Set<DeviceType>(['teamsRoom', 'collaborationBar', 'surfaceHub', 'teamsPanel', 'touchConsole']);
const DOMAIN = 'contoso.com';
const NETWORK_DOMAIN = `corp.${DOMAIN}`;
const [BACKLIGHT_TIMEOUTS, SCREENSAVER_TIMEOUTS, LOCK_TIMEOUTS] = [['PT1M', 'PT5M', 'PT10M'], ['PT5M', 'PT15M', 'PT30M'], ['PT5M', 'PT10M', 'PT30M']];
const LOGGING_LEVELS = ['Info', 'Info', 'Warning', 'Debug'];

const WINDOWS_SOFTWARE: readonly SoftwareType[] = ['adminAgent', 'operatingSystem', 'teamsClient'];
const ANDROID_SOFTWARE: readonly SoftwareType[] = [...WINDOWS_SOFTWARE, 'firmware', 'partnerAgent', 'companyPortal'];
const SIP_SOFTWARE: readonly SoftwareType[] = ['operatingSystem'];

/** The software types a device of this type runs (and can be updated). */
export function softwareTypesOf(deviceType: DeviceType): readonly SoftwareType[] {
  return deviceFamily(deviceType) === 'windows' ? WINDOWS_SOFTWARE : deviceType === 'sip' ? SIP_SOFTWARE : ANDROID_SOFTWARE;
}

const CONTENT_CAMERA_CONFIGS = [false, true].map((enhanced) =>
  frozen({ isContentCameraInverted: false, isContentCameraOptional: true, isContentEnhancementEnabled: enhanced }));
const FEATURES = Array.from({ length: 16 }, (_, b) => frozen({
  emailToSendLogsAndFeedback: `it-support@${DOMAIN}`, isAutoScreenShareEnabled: (b & 1) === 0,
  isBluetoothBeaconingEnabled: (b & 2) === 0, isHideMeetingNamesEnabled: (b & 4) !== 0, isSendLogsAndFeedbackEnabled: (b & 8) === 0,
}));
const ACCOUNT_CONFIGS = ['teamsOnly', 'teamsDefaultAndSkype'].map((supportedClient) =>
  frozen({ onPremisesCalendarSyncConfiguration: null, supportedClient }));
// 12-hour clocks listed four times to make them four times as likely.
const DATE_TIMES = ['12-hour', '12-hour', '12-hour', '12-hour', '24-hour'].flatMap((timeFormat) =>
  ['Pacific Standard Time', 'Eastern Standard Time', 'GMT Standard Time'].map((timeZone) => frozen({
    dateFormat: 'MM/dd/yyyy', officeHoursEndTime: '17:00:00', officeHoursStartTime: '08:00:00', timeFormat, timeZone,
  })));

// --- per-device parts --------------------------------------------------------------------

interface UpdateStatus { currentVersion: string; availableVersion: string; softwareFreshness: string }
const statusTables = new Map<string[], UpdateStatus[][]>();
function updateStatus(versions: string[], mode: 'newest' | 'older' | 'any', unknown: boolean): UpdateStatus | null {
  if (versions.length === 0) return null;
  const newest = versions.length - 1;
  let table = statusTables.get(versions);
  if (!table) {
    const make = (v: string, f: string) => frozen({ currentVersion: v, availableVersion: versions[newest], softwareFreshness: f });
    table = [versions.map((v, i) => make(v, i === newest ? 'latest' : 'updateAvailable')), versions.map((v) => make(v, 'unknown'))];
    statusTables.set(versions, table);
  }
  const i = mode === 'newest' ? newest : mode === 'older' && newest > 0 ? int(newest) : int(versions.length);
  return table[unknown ? 1 : 0][i];
}

type Status = 'connected' | 'disconnected' | 'unknown';
type Connections = Record<Status, Readonly<{ connectionStatus: Status; lastModifiedDateTime: string }>>;
const ph = (peripheral: Peripheral | null, isOptional: boolean, connection: Connections[Status]) =>
  ({ connection, isOptional, peripheral });

function identity(adminIds: string[]): IdentitySet | null {
  if (chance(0.4)) return null;
  const i = int(ADMINS.length);
  return { application: null, device: null, user: { id: adminIds[i], displayName: ADMINS[i], userIdentityType: 'aadUser' } };
}

export function generateDevices(options: GenerateOptions): Device[] {
  const start = options.startIndex ?? 0;
  const nowMs = (options.now ?? new Date()).getTime();
  const nowIso = new Date(nowMs).toISOString();
  const salt = fmix32(seedOf(options.tenantId) ^ fmix32((options.seed ?? 1) >>> 0));
  const serialSalt = fmix32(salt ^ 0x9e3779b9);
  random.reseed(salt);
  const adminIds = ADMINS.map(() => uuid());
  const out: Device[] = new Array(options.count);

  for (let k = 0; k < options.count; k++) {
    const index = start + k;
    const idWord = fmix32((index + salt) | 0);
    // Each device draws from its own stream, so it is the same whatever batch it is generated in.
    random.reseed(idWord ^ 0x5bd1e995);
    const id = uuidFrom(idWord, next32(), next32(), next32());
    const deviceType = pickW(TYPES);
    const family = deviceFamily(deviceType);
    const model = pick(MODELS[deviceType]);
    const v = model.vendor;
    const isRoomFamily = deviceType === 'teamsRoom' || deviceType === 'surfaceHub' || deviceType === 'collaborationBar';

    // An odd multiplier is a bijection mod 2^24, so MACs stay unique per OUI for 16M devices.
    const macLow = (Math.imul(index, 0x2c1b3c6d) + salt) & 0xffffff;
    const b0 = HEXU[macLow >>> 16], b1 = HEXU[(macLow >>> 8) & 255], b2 = HEXU[macLow & 255];
    const macAddresses = [flat(`${v.ouis[0]}:${b0}:${b1}:${b2}`)];
    if (isRoomFamily || chance(0.3)) macAddresses.push(flat(`${v.ouis[1]}:${b0}:${b1}:${b2}`));
    const hardwareDetail: HardwareDetail = {
      uniqueId: hex4(next32()) + hex8(fmix32(idWord ^ 0x27d4eb2f)), serialNumber: v.serialPrefix + hexU8(fmix32((index + serialSalt) | 0)),
      manufacturer: v.name, model: model.model, macAddresses,
    };

    let currentUser: UserIdentity | null = null;
    let roomName = '';
    if (!chance(0.05)) {
      if (ROOM_ACCOUNT_TYPES.has(deviceType)) {
        const name = pick(ROOM_NAMES);
        const floor = String(1 + int(12));
        const room = P2[1 + int(30)];
        roomName = flat(`${name.toLowerCase()}${floor}${room}`);
        currentUser = { id: uuid(), displayName: flat(`Conf Room ${name} ${floor}.${room}`), userIdentityType: 'aadUser' };
      } else {
        currentUser = { id: uuid(), displayName: flat(`${pick(FIRST)} ${pick(LAST)}`), userIdentityType: 'aadUser' };
      }
    }

    // Statuses agree with healthStatusOf (domain/device-health.ts), so recomputing them changes
    // nothing: a signed-out online device is critical, a nonUrgent one has an update pending.
    let healthStatus = pickW(HEALTH);
    if (currentUser === null && (healthStatus === 'healthy' || healthStatus === 'nonUrgent')) healthStatus = 'critical';
    const offline = healthStatus === 'offline';
    const unknownHealth = healthStatus === 'unknown';
    const activityState: ActivityState = offline ? 'unavailable' : unknownHealth && chance(0.5) ? 'unknown' : pickW(ACTIVITY);

    const createdMs = nowMs - int(365) * DAY - int(DAY);
    const modifiedMs = createdMs + rnd() * (nowMs - createdMs);
    const created = iso(createdMs);
    const modified = iso(modifiedMs);
    const docModified = iso(Math.max(modifiedMs, nowMs - int(DAY)));
    const since = iso(createdMs + rnd() * (nowMs - createdMs));

    const applicable = softwareTypesOf(deviceType);
    const laggard: SoftwareType = deviceType === 'sip' ? 'operatingSystem' : 'teamsClient';
    const sw: Record<SoftwareType, UpdateStatus | null> = {
      adminAgent: null, operatingSystem: null, teamsClient: null, firmware: null, partnerAgent: null, companyPortal: null,
    };
    const installed: InstalledVersions = {};
    for (const t of applicable) {
      const mode = healthStatus === 'healthy' ? 'newest' : healthStatus === 'nonUrgent' && t === laggard ? 'older' : 'any';
      const status = updateStatus(demoSoftwareVersions[t][family], mode, unknownHealth);
      sw[t] = status;
      if (status) installed[t] = status.currentVersion;
    }

    const online = !offline && !unknownHealth;
    const up: Status = online ? 'connected' : offline ? 'disconnected' : 'unknown';
    const teamsUp: Status = !online ? up : currentUser && !(healthStatus === 'critical' && !isRoomFamily) ? 'connected' : 'disconnected';
    const pUp: Status = online ? 'connected' : 'unknown';
    // Shared within the device only: every part that changed state at the same moment.
    const c: Connections = {
      connected: frozen({ connectionStatus: 'connected', lastModifiedDateTime: since }),
      disconnected: frozen({ connectionStatus: 'disconnected', lastModifiedDateTime: since }),
      unknown: frozen({ connectionStatus: 'unknown', lastModifiedDateTime: since }),
    };

    let roomCamera: Peripheral | null = null, contentCamera: Peripheral | null = null;
    let speaker: Peripheral | null = null, mic: Peripheral | null = null;
    let displays: Peripheral[] = [];
    if (deviceType === 'teamsRoom') {
      roomCamera = pick(ROOM_CAMERAS);
      contentCamera = chance(0.2) ? pick(CONTENT_CAMERAS) : null;
      [speaker, mic] = pick(AUDIO_KITS);
    } else if (isRoomFamily) {
      [roomCamera, speaker, mic] = [model.camera, model.speaker, model.mic];
    } else if ((deviceType === 'ipPhone' || deviceType === 'teamsDisplay') && chance(0.3)) {
      [speaker, mic] = pick(HEADSETS);
    }
    if (isRoomFamily) {
      displays = deviceType === 'surfaceHub' ? [model.display] : chance(0.4) ? [pick(DISPLAYS), pick(DISPLAYS)] : [pick(DISPLAYS)];
    }
    // Critical rooms have a required peripheral down (camera, microphone or front display).
    const broken = healthStatus === 'critical' && isRoomFamily ? int(3) : -1;
    const optionalDown = healthStatus === 'nonUrgent' && chance(0.5);

    const health = {
      connection: c[up],
      loginStatus: {
        exchangeConnection: c[!online ? up : currentUser ? 'connected' : 'disconnected'],
        skypeConnection: c[family === 'windows' ? teamsUp : 'unknown'],
        teamsConnection: c[teamsUp],
      },
      peripheralsHealth: {
        roomCameraHealth: roomCamera ? ph(roomCamera, false, c[broken === 0 ? 'disconnected' : pUp]) : null,
        contentCameraHealth: isRoomFamily
          ? ph(contentCamera, true, c[!contentCamera ? 'unknown' : optionalDown ? 'disconnected' : pUp]) : null,
        speakerHealth: speaker ? ph(speaker, !isRoomFamily, c[pUp]) : null,
        communicationSpeakerHealth: speaker ? ph(speaker, !isRoomFamily, c[pUp]) : null,
        displayHealthCollection: displays.map((d, i) =>
          ph(d, i > 0, c[(broken === 2 && i === 0) || (optionalDown && i > 0) ? 'disconnected' : pUp])),
        microphoneHealth: mic ? ph(mic, !isRoomFamily, c[broken === 1 ? 'disconnected' : pUp]) : null,
      },
      softwareUpdateHealth: {
        adminAgentSoftwareUpdateStatus: sw.adminAgent,
        companyPortalSoftwareUpdateStatus: sw.companyPortal,
        firmwareSoftwareUpdateStatus: sw.firmware,
        operatingSystemSoftwareUpdateStatus: sw.operatingSystem,
        partnerAgentSoftwareUpdateStatus: sw.partnerAgent,
        teamsClientSoftwareUpdateStatus: sw.teamsClient,
      },
      hardwareHealth: isRoomFamily ? {
        computeHealth: ph(model.compute, false, c[up]),
        hdmiIngestHealth: ph(HDMI, true, c[pUp]),
      } : null,
      createdDateTime: created, createdBy: null, lastModifiedDateTime: docModified, lastModifiedBy: null,
    };

    const busy = online && activityState === 'busy';
    const activity = {
      activePeripherals: {
        roomCamera: busy ? roomCamera : null,
        contentCamera: busy ? contentCamera : null,
        speaker: online ? speaker : null,
        communicationSpeaker: online ? speaker : null,
        microphone: online ? mic : null,
      },
      createdDateTime: created, createdBy: null, lastModifiedDateTime: docModified, lastModifiedBy: null,
    };

    const configuration = {
      softwareVersions: {
        adminAgentSoftwareVersion: installed.adminAgent ?? null,
        operatingSystemSoftwareVersion: installed.operatingSystem ?? null,
        teamsClientSoftwareVersion: installed.teamsClient ?? null,
        firmwareSoftwareVersion: installed.firmware ?? null,
        partnerAgentSoftwareVersion: installed.partnerAgent ?? null,
      },
      displayConfiguration: isRoomFamily ? {
        configuredDisplays: displays.map((d, i) => ({ isOptional: i > 0, peripheral: d })), displayCount: displays.length,
        inBuiltDisplayScreenConfiguration: null, isContentDuplicationAllowed: chance(0.5), isDualDisplayModeEnabled: displays.length > 1,
      } : deviceType === 'sip' ? null : {
        configuredDisplays: [], displayCount: null,
        inBuiltDisplayScreenConfiguration: {
          backlightBrightness: 50 + 10 * int(6), backlightTimeout: pick(BACKLIGHT_TIMEOUTS), isHighContrastEnabled: chance(0.03),
          isScreensaverEnabled: chance(0.6), screensaverTimeout: pick(SCREENSAVER_TIMEOUTS),
        },
        isContentDuplicationAllowed: null, isDualDisplayModeEnabled: null,
      },
      cameraConfiguration: isRoomFamily ? {
        cameras: contentCamera ? [roomCamera, contentCamera] : [roomCamera],
        contentCameraConfiguration: CONTENT_CAMERA_CONFIGS[contentCamera ? 1 : 0],
        defaultContentCamera: contentCamera,
      } : null,
      speakerConfiguration: isRoomFamily ? {
        defaultCommunicationSpeaker: speaker, defaultSpeaker: speaker,
        isCommunicationSpeakerOptional: false, isSpeakerOptional: false, speakers: [speaker],
      } : null,
      microphoneConfiguration: isRoomFamily ? { defaultMicrophone: mic, isMicrophoneOptional: false, microphones: [mic] } : null,
      teamsClientConfiguration: isRoomFamily ? {
        accountConfiguration: roomName && chance(0.15) ? {
          onPremisesCalendarSyncConfiguration: { domain: DOMAIN, domainUserName: `CONTOSO\\${roomName}`, smtpAddress: `${roomName}@${DOMAIN}` },
          supportedClient: 'teamsOnly',
        } : ACCOUNT_CONFIGS[chance(0.9) ? 0 : 1],
        // Bits weighted towards each feature's usual setting (auto share and logs on, names shown).
        featuresConfiguration: FEATURES[(chance(0.3) ? 1 : 0) | (chance(0.5) ? 2 : 0) | (chance(0.2) ? 4 : 0) | (chance(0.2) ? 8 : 0)],
      } : null,
      hardwareConfiguration: isRoomFamily ? model.hardwareConfiguration : null,
      systemConfiguration: isRoomFamily ? null : {
        dateTimeConfiguration: pick(DATE_TIMES), defaultPassword: null, deviceLockTimeout: pick(LOCK_TIMEOUTS),
        isDeviceLockEnabled: chance(0.3), isLoggingEnabled: chance(0.8), isPowerSavingEnabled: chance(0.6),
        isScreenCaptureEnabled: chance(0.1), isSilentModeEnabled: false, language: 'en-US', lockPin: null,
        loggingLevel: pick(LOGGING_LEVELS),
        networkConfiguration: networkConfiguration(model, b0 + b1 + b2),
      },
      createdDateTime: created, createdBy: null, lastModifiedDateTime: modified, lastModifiedBy: null,
    };

    out[k] = {
      tenantId: options.tenantId, id, deviceType, hardwareDetail, healthStatus, activityState,
      companyAssetTag: chance(0.85) ? `TAG-${String(int(1_000_000)).padStart(6, '0')}` : null,
      notes: chance(0.4) ? pick(NOTES) : null,
      currentUser,
      createdDateTime: created, createdBy: identity(adminIds), lastModifiedDateTime: modified, lastModifiedBy: identity(adminIds),
      health, activity, configuration, installed,
      // Seeded devices have no agent; a timestamp here would let the liveness sweep mark them offline.
      lastSeenDateTime: null,
      generatedFrom: { seed: options.seed ?? 1, index, now: nowIso },
    };
  }
  return out;
}

function networkConfiguration(model: Model, hostTail: string) {
  const subnet = `10.${int(256)}.${int(256)}.`;
  return {
    defaultGateway: subnet + '1', domainName: NETWORK_DOMAIN, hostName: flat(`${model.hostPrefix}-${hostTail}`),
    ipAddress: subnet + String(2 + int(252)), isDhcpEnabled: chance(0.9), isPCPortEnabled: chance(0.5),
    primaryDns: '10.0.0.10', secondaryDns: '10.0.0.11', subnetMask: '255.255.255.0',
  };
}
