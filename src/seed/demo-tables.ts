import type { ActivityState, DeviceType, HealthStatus, SoftwareType } from '../domain/enums.js';

/**
 * The tables demo devices are drawn from: device families and their software versions,
 * vendors and models, peripherals, weights of types and states, names and notes. Parts that
 * many devices share are built once here (see `frozen`).
 */
export interface Weighted<T> { items: T[]; cum: number[]; total: number }
function weighted<T>(pairs: [T, number][]): Weighted<T> {
  let total = 0;
  const cum = pairs.map(([, w]) => (total += w));
  return { items: pairs.map(([v]) => v), cum, total };
}

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

// Parts that are the same for many devices are shared rather than copied (most of the cost of
// 150k devices is GC). They are frozen so that an in-place edit fails loudly instead of leaking
// into other devices; the domain code replaces documents rather than editing them.
export const frozen = <T extends object>(o: T): T => Object.freeze(o);

export interface Peripheral { id: string; displayName: string; vendorId: string | null; productId: string | null }
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
export const HDMI = per('HDMI Ingest', null, null);

export interface Model {
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

export const MODELS: Record<string, Model[]> = {
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

export const TYPES = weighted<DeviceType>([['teamsRoom', 30], ['collaborationBar', 15], ['ipPhone', 25], ['teamsPanel', 10],
  ['teamsDisplay', 5], ['surfaceHub', 3], ['lowCostPhone', 7], ['touchConsole', 3], ['sip', 2]]);
export const HEALTH = weighted<HealthStatus>([['healthy', 75], ['nonUrgent', 12], ['critical', 2], ['offline', 8], ['unknown', 3]]);
export const ACTIVITY = weighted<ActivityState>([['idle', 72], ['busy', 20], ['unavailable', 3], ['unknown', 5]]);

export const ROOM_CAMERAS = [per('Logitech Rally Camera', 'VID_046D', 'PID_0881'), per('Poly EagleEye Cube USB', 'VID_095D', 'PID_9217'),
  per('Huddly IQ', 'VID_2BD9', 'PID_0021'), per('Yealink UVC86', 'VID_6993', 'PID_B0A5'), per('Logitech MeetUp', 'VID_046D', 'PID_0866')];
export const CONTENT_CAMERAS = [per('Logitech Scribe', 'VID_046D', 'PID_0893'), per('Huddly Canvas', 'VID_2BD9', 'PID_0031')];
export const AUDIO_KITS: [Peripheral, Peripheral][] = [
  [per('Echo Cancelling Speakerphone (Logitech Rally Audio)', 'VID_046D', 'PID_0885'), per('Microphone (Logitech Rally Mic Pod)', 'VID_046D', 'PID_0885')],
  [per('Echo Cancelling Speakerphone (Jabra SPEAK 810)', 'VID_0B0E', 'PID_0420'), per('Microphone (Jabra SPEAK 810)', 'VID_0B0E', 'PID_0420')],
  [per('Speakers (Shure P300)', 'VID_14ED', 'PID_3000'), per('Microphone (Shure MXA910)', 'VID_14ED', 'PID_3000')],
  [per('Speakers (Sennheiser TeamConnect Bar)', 'VID_1395', 'PID_0300'), per('Microphone (Sennheiser TCC2)', 'VID_1395', 'PID_0300')],
];
export const DISPLAYS = [per('Samsung QM65R', 'SAM', '0F4F'), per('LG 65UH5F', 'GSM', '7711'), per('Sony FW-65BZ35F', 'SNY', '7F03'),
  per('NEC MultiSync E658', 'NEC', '6A47')];
export const HEADSETS: [Peripheral, Peripheral][] = [['Jabra Evolve2 65', 'VID_0B0E', 'PID_0305'],
  ['Poly Voyager Focus 2', 'VID_047F', 'PID_02E6'], ['Yealink WH62', 'VID_6993', 'PID_B0B6']]
  .map(([n, v, p]) => [per(n, v, p), per(`${n} Microphone`, v, p)]);

export const ROOM_NAMES = ['Rainier', 'Baker', 'Shasta', 'Hood', 'Olympus', 'Denali', 'Whitney', 'Elbert', 'Adams', 'Cascade',
  'Tahoe', 'Crater', 'Sequoia', 'Yosemite', 'Zion', 'Acadia', 'Glacier', 'Sierra', 'Redwood', 'Columbia', 'Puget', 'Orca',
  'Everest', 'Kilimanjaro', 'Fuji', 'Matterhorn', 'Aconcagua', 'Elbrus', 'Vinson', 'Kosciuszko', 'Atlas', 'Andes'];
export const FIRST = ['Evan', 'Megan', 'Adele', 'Alex', 'Diego', 'Grady', 'Henrietta', 'Isaiah', 'Johanna', 'Joni', 'Lee', 'Lidia',
  'Lynne', 'Miriam', 'Nestor', 'Patti', 'Pradeep', 'Sofia', 'Wei', 'Yuki', 'Amara', 'Carlos', 'Fatima', 'Liam', 'Noah', 'Olga'];
export const LAST = ['Lewis', 'Bowen', 'Vance', 'Wilber', 'Siciliani', 'Archie', 'Cantrell', 'Langer', 'Lauer', 'Sherman', 'Gu',
  'Holloway', 'Robbins', 'Graham', 'Wilke', 'Fernandez', 'Gupta', 'Rossi', 'Chen', 'Tanaka', 'Okafor', 'Mendes', 'Haddad'];
export const NOTES = ['Board room, 4th floor', 'Huddle space next to the kitchen', 'Reception desk', 'Loaner device, return to IT',
  'Replaced power supply in March', 'Executive suite', 'Training room, ground floor', 'Lobby check-in',
  'Hot-desking area, east wing', 'Mounted outside the room entrance', 'Pilot device for the new firmware ring'];
export const ADMINS = ['Megan Bowen', 'Adele Vance', 'Nestor Wilke', 'Patti Fernandez', 'Grady Archie', 'Lidia Holloway'];
export const ROOM_ACCOUNT_TYPES = new Set<DeviceType>(['teamsRoom', 'collaborationBar', 'surfaceHub', 'teamsPanel', 'touchConsole']);
export const DOMAIN = 'contoso.com';
export const NETWORK_DOMAIN = `corp.${DOMAIN}`;
export const [BACKLIGHT_TIMEOUTS, SCREENSAVER_TIMEOUTS, LOCK_TIMEOUTS] = [['PT1M', 'PT5M', 'PT10M'], ['PT5M', 'PT15M', 'PT30M'], ['PT5M', 'PT10M', 'PT30M']];
export const LOGGING_LEVELS = ['Info', 'Info', 'Warning', 'Debug'];

const WINDOWS_SOFTWARE: readonly SoftwareType[] = ['adminAgent', 'operatingSystem', 'teamsClient'];
const ANDROID_SOFTWARE: readonly SoftwareType[] = [...WINDOWS_SOFTWARE, 'firmware', 'partnerAgent', 'companyPortal'];
const SIP_SOFTWARE: readonly SoftwareType[] = ['operatingSystem'];

/** The software types a device of this type runs (and can be updated). */
export function softwareTypesOf(deviceType: DeviceType): readonly SoftwareType[] {
  return deviceFamily(deviceType) === 'windows' ? WINDOWS_SOFTWARE : deviceType === 'sip' ? SIP_SOFTWARE : ANDROID_SOFTWARE;
}

export const CONTENT_CAMERA_CONFIGS = [false, true].map((enhanced) =>
  frozen({ isContentCameraInverted: false, isContentCameraOptional: true, isContentEnhancementEnabled: enhanced }));
export const FEATURES = Array.from({ length: 16 }, (_, b) => frozen({
  emailToSendLogsAndFeedback: `it-support@${DOMAIN}`, isAutoScreenShareEnabled: (b & 1) === 0,
  isBluetoothBeaconingEnabled: (b & 2) === 0, isHideMeetingNamesEnabled: (b & 4) !== 0, isSendLogsAndFeedbackEnabled: (b & 8) === 0,
}));
export const ACCOUNT_CONFIGS = ['teamsOnly', 'teamsDefaultAndSkype'].map((supportedClient) =>
  frozen({ onPremisesCalendarSyncConfiguration: null, supportedClient }));
// 12-hour clocks listed four times to make them four times as likely.
export const DATE_TIMES = ['12-hour', '12-hour', '12-hour', '12-hour', '24-hour'].flatMap((timeFormat) =>
  ['Pacific Standard Time', 'Eastern Standard Time', 'GMT Standard Time'].map((timeZone) => frozen({
    dateFormat: 'MM/dd/yyyy', officeHoursEndTime: '17:00:00', officeHoursStartTime: '08:00:00', timeFormat, timeZone,
  })));
