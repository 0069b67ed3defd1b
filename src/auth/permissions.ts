const readAll = 'TeamworkDevice.Read.All';
export const readWriteAll = 'TeamworkDevice.ReadWrite.All';

/** Tenant id Entra ID puts in tokens of personal Microsoft accounts, which these APIs refuse. */
export const personalAccountTenant = '9188040d-6c67-4c5b-b112-36a304b66dad';

export type Access = 'read' | 'write';

/** Reads accept either permission; actions need ReadWrite (Graph's permission tables). */
export function permits(permissions: ReadonlySet<string>, access: Access): boolean {
  return access === 'read' ? permissions.has(readAll) || permissions.has(readWriteAll) : permissions.has(readWriteAll);
}
