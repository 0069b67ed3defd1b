/**
 * JSON schemas of the hottest 200 responses, so Fastify serialises them with compiled
 * fast-json-stringify code instead of JSON.stringify. No property is required: `$select`
 * leaves any subset. Open Graph types (identitySet) stay open.
 */
const text = { type: ['string', 'null'] } as const;
const openObject = { type: ['object', 'null'], additionalProperties: true } as const;

const operation = {
  type: 'object',
  properties: {
    '@odata.type': { type: 'string' },
    id: { type: 'string' },
    status: { type: 'string' },
    operationType: { type: 'string' },
    error: { type: ['object', 'null'], properties: { code: text, message: text } },
    startedDateTime: text,
    completedDateTime: text,
    createdDateTime: text,
    lastActionDateTime: text,
    createdBy: openObject,
    lastActionBy: openObject,
    scheduledDateTime: text,
    progressPercent: { type: 'integer' },
    progressMessage: { type: 'string' },
  },
} as const;

// A schema drops what it does not name, so the properties $expand adds are named here too.
const device = {
  type: 'object',
  properties: {
    '@odata.type': { type: 'string' },
    id: { type: 'string' },
    deviceType: { type: 'string' },
    hardwareDetail: {
      type: 'object',
      properties: {
        uniqueId: text,
        serialNumber: text,
        manufacturer: text,
        model: text,
        macAddresses: { type: 'array', items: { type: 'string' } },
      },
    },
    notes: text,
    companyAssetTag: text,
    healthStatus: text,
    activityState: text,
    createdDateTime: text,
    createdBy: openObject,
    lastModifiedDateTime: text,
    lastModifiedBy: openObject,
    currentUser: {
      type: ['object', 'null'],
      properties: { id: text, displayName: text, userIdentityType: text },
    },
    health: openObject,
    activity: openObject,
    configuration: openObject,
    operations: { type: 'array', items: operation },
    'operations@odata.nextLink': { type: 'string' },
  },
} as const;


const collection = (item: object) => ({
  200: {
    type: 'object',
    properties: {
      '@odata.context': { type: 'string' },
      '@odata.count': { type: 'integer' },
      '@odata.nextLink': { type: 'string' },
      value: { type: 'array', items: item },
    },
  },
});

const entity = (schema: { properties: object }) => ({
  200: { ...schema, properties: { '@odata.context': { type: 'string' }, ...schema.properties } },
});

const tenantOperation = { ...operation, properties: { ...operation.properties, deviceId: { type: 'string' } } } as const;

export const responseSchemas = {
  deviceList: collection(device),
  device: entity(device),
  operationList: collection(operation),
  tenantOperationList: collection(tenantOperation),
  operation: entity(operation),
};
