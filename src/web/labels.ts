/** Words for the API's camelCase enum members, as an operator reads them. */
const words: Record<string, string> = {
  nonUrgent: 'Non-urgent', ipPhone: 'IP phone', teamsRoom: 'Teams Room', surfaceHub: 'Surface Hub',
  collaborationBar: 'Collaboration bar', teamsDisplay: 'Teams display', touchConsole: 'Touch console',
  lowCostPhone: 'Low-cost phone', teamsPanel: 'Teams panel', sip: 'SIP phone', inProgress: 'In progress',
  softwareUpdate: 'Software update', deviceRestart: 'Restart', deviceDiagnostics: 'Diagnostics',
  updateAvailable: 'Update available', teamsClient: 'Teams client', adminAgent: 'Admin agent',
  operatingSystem: 'Operating system', partnerAgent: 'Partner agent', companyPortal: 'Company Portal',
};

/** An enum member as words: a known label, else its camelCase split ("notConnected" → "Not connected"). */
export function labelOf(value: string | null | undefined): string {
  if (value == null) return '–';
  const known = words[value];
  if (known) return known;
  const spaced = value.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}
