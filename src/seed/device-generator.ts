import type { Device, HardwareDetail, UserIdentity } from '../domain/device.js';
import type { InstalledVersions } from '../domain/device-health.js';
import type { ActivityState, DeviceType, HealthStatus, SoftwareType } from '../domain/enums.js';
import type { IdentitySet } from '../domain/identity.js';
import {
  ACCOUNT_CONFIGS, ACTIVITY, ADMINS, AUDIO_KITS, BACKLIGHT_TIMEOUTS, CONTENT_CAMERAS, CONTENT_CAMERA_CONFIGS, DATE_TIMES,
  DISPLAYS, DOMAIN, FEATURES, FIRST, HDMI, HEADSETS, HEALTH, LAST, LOCK_TIMEOUTS, LOGGING_LEVELS, MODELS, NETWORK_DOMAIN,
  NOTES, ROOM_ACCOUNT_TYPES, ROOM_CAMERAS, ROOM_NAMES, SCREENSAVER_TIMEOUTS, TYPES, demoSoftwareVersions, deviceFamily,
  frozen, softwareTypesOf, type Model, type Peripheral, type Weighted,
} from './demo-tables.js';
import { SeededRandom, seedOf } from './seeded-random.js';

export interface GenerateOptions { tenantId: string; count: number; seed?: number; now?: Date; startIndex?: number }

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
