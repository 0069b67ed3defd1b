import type { JSX } from 'preact';
import { matchPath } from './router';
import { OverviewPage } from './pages/overview-page';
import { DevicesPage } from './pages/devices-page';
import { DevicePage } from './pages/device-page';
import { RolloutsPage } from './pages/rollouts-page';
import { RolloutPage } from './pages/rollout-page';
import { MaintenanceWindowsPage } from './pages/maintenance-windows-page';
import { EnrollmentTokensPage } from './pages/enrollment-tokens-page';
import { AuditPage } from './pages/audit-page';

/** A page of the console: the hash path it answers, its title and whether the top bar links to it. */
export interface Page {
  pattern: string;
  title: string;
  nav: boolean;
  render(params: Record<string, string>, query: URLSearchParams): JSX.Element;
}

/** Every page, in the top bar's order. A feature's page is one entry here. */
export const pages: Page[] = [
  { pattern: '/', title: 'Overview', nav: true, render: () => <OverviewPage /> },
  { pattern: '/devices', title: 'Devices', nav: true, render: (_params, query) => <DevicesPage query={query} /> },
  { pattern: '/devices/:id', title: 'Device', nav: false, render: (params) => <DevicePage id={params.id} /> },
  { pattern: '/rollouts', title: 'Rollouts', nav: true, render: (_params, query) => <RolloutsPage query={query} /> },
  { pattern: '/rollouts/:id', title: 'Rollout', nav: false, render: (params) => <RolloutPage id={params.id} /> },
  { pattern: '/maintenance-windows', title: 'Maintenance windows', nav: true, render: () => <MaintenanceWindowsPage /> },
  { pattern: '/enrollment-tokens', title: 'Enrollment tokens', nav: true, render: () => <EnrollmentTokensPage /> },
  { pattern: '/audit', title: 'Audit log', nav: true, render: (_params, query) => <AuditPage query={query} /> },
];

/** The page a path shows, with the path's parameters. */
export function pageFor(path: string): { page: Page; params: Record<string, string> } | null {
  for (const page of pages) {
    const params = matchPath(page.pattern, path);
    if (params) return { page, params };
  }
  return null;
}
