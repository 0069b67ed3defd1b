import { useState } from 'preact/hooks';
import { getJson, postJson, type Collection } from '../api-client';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorMessage } from '../components/error-message';
import { useAsync } from '../components/use-async';

interface TokenJson {
  id: string;
  description: string | null;
  createdDateTime: string;
  expiresDateTime: string;
  maxUses: number | null;
  uses: number;
  revokedDateTime: string | null;
}

const path = '/teamwork/enrollmentTokens';

/** Whether a token may still enroll a device. */
function tokenState(token: TokenJson): string {
  if (token.revokedDateTime) return 'Revoked';
  if (Date.parse(token.expiresDateTime) <= Date.now()) return 'Expired';
  if (token.maxUses !== null && token.uses >= token.maxUses) return 'Used up';
  return 'Active';
}

/** Enrollment tokens: what lets devices join the tenant. List, create (its secret shown once), revoke. */
export function EnrollmentTokensPage() {
  const [version, setVersion] = useState(0);
  const tokens = useAsync(() => getJson<Collection<TokenJson>>(path), [version]);
  const [description, setDescription] = useState('');
  const [maxUses, setMaxUses] = useState('');
  const [days, setDays] = useState('7');
  const [created, setCreated] = useState<{ token: string; id: string } | null>(null);
  const [revoking, setRevoking] = useState<TokenJson | null>(null);
  const [problem, setProblem] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const create = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const response = await postJson(path, {
        description: description || null,
        maxUses: maxUses ? Number(maxUses) : null,
        expiresDateTime: new Date(Date.now() + Number(days) * 86_400_000).toISOString(),
      });
      const body = (await response.json()) as TokenJson & { token: string };
      setCreated({ token: body.token, id: body.id });
      setDescription('');
      setMaxUses('');
      setVersion((n) => n + 1);
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (token: TokenJson) => {
    setProblem(null);
    try {
      await postJson(`${path}/${encodeURIComponent(token.id)}/revoke`, {});
      setVersion((n) => n + 1);
    } catch (error) {
      setProblem(error);
    }
  };
  return (
    <>
      <h1 tabIndex={-1}>Enrollment tokens</h1>
      <form class="card edit-form" onSubmit={create} aria-labelledby="token-form-title">
        <h2 id="token-form-title">New enrollment token</h2>
        <label>Description<input type="text" maxLength={256} value={description} onInput={(e) => setDescription(e.currentTarget.value)} /></label>
        <label>Devices it may enroll (empty: no limit)<input type="number" min={1} value={maxUses} onInput={(e) => setMaxUses(e.currentTarget.value)} /></label>
        <label>Valid for (days, 1 to 365)<input type="number" required min={1} max={365} value={days} onInput={(e) => setDays(e.currentTarget.value)} /></label>
        <div class="dialog-buttons"><button type="submit" class="primary" disabled={busy}>Create token</button></div>
      </form>
      {created && (
        <div class="card secret" role="status">
          <h2>The new token</h2>
          <p>Copy it now: the service keeps only its hash and cannot show it again.</p>
          <pre class="result" data-testid="new-token">{created.token}</pre>
          <button type="button" onClick={() => setCreated(null)}>I have copied it</button>
        </div>
      )}
      <ErrorMessage error={problem ?? tokens.error} />
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Enrollment tokens</caption>
          <thead>
            <tr><th scope="col">Description</th><th scope="col">State</th><th scope="col">Uses</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr>
          </thead>
          <tbody>
            {tokens.value?.value.map((token) => (
              <tr key={token.id} data-token-id={token.id}>
                <td>{token.description ?? <span class="note">(none)</span>}</td>
                <td>{tokenState(token)}</td>
                <td>{token.uses}{token.maxUses !== null ? ` of ${token.maxUses}` : ''}</td>
                <td>{new Date(token.createdDateTime).toLocaleString()}</td>
                <td>{new Date(token.expiresDateTime).toLocaleString()}</td>
                <td>{!token.revokedDateTime && (
                  <button type="button" onClick={() => setRevoking(token)} aria-label={`Revoke ${token.description ?? token.id}`}>Revoke</button>
                )}</td>
              </tr>
            ))}
            {tokens.value?.value.length === 0 && <tr><td colSpan={6}>No enrollment tokens.</td></tr>}
          </tbody>
        </table>
      </div>
      {revoking && (
        <ConfirmDialog title="Revoke this token?" confirmLabel="Revoke" danger onClose={() => setRevoking(null)} onConfirm={() => void revoke(revoking)}>
          <p>Devices can no longer enroll with it. Devices it already enrolled keep their own credentials.</p>
        </ConfirmDialog>
      )}
    </>
  );
}
